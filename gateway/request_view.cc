#include "gateway/request_view.h"

#include <utility>

#include "polku/v1/journey.pb.h"

namespace polku::gateway {

absl::StatusOr<std::string> NarrowRequest(Narrowing narrowing,
                                          std::string request) {
  switch (narrowing) {
    case Narrowing::kNone:
      return request;
    case Narrowing::kJourneyBasicView: {
      v1::ListJourneysRequest list;
      if (!list.ParseFromString(request)) {
        return absl::InvalidArgumentError(
            "the request does not parse as polku.v1.ListJourneysRequest");
      }
      list.set_view(v1::JOURNEY_VIEW_BASIC);
      return list.SerializeAsString();
    }
  }
  return request;  // Unreachable: the switch covers every narrowing.
}

}  // namespace polku::gateway
