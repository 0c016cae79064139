// Journey definitions (stages in order, touchpoints with channels and
// targets) for the calls that draw or order by them: GetJourneyMap and
// GetConsistency. Asked of polku-journey at query time, on the query
// executor, with a deadline on every call.
//
//   GrpcJourneySource journeys(channel);   // the channel GrpcJourneyLineage uses
//   POLKU_ASSIGN_OR_RETURN(v1::Journey journey,
//                          journeys.Journey("acme", "switching", 0));
#ifndef POLKU_SERVICES_INSIGHT_JOURNEY_SOURCE_H_
#define POLKU_SERVICES_INSIGHT_JOURNEY_SOURCE_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/journey.grpc.pb.h"
#include "polku/v1/journey.pb.h"

namespace polku::insight {

class JourneySource {
 public:
  virtual ~JourneySource() = default;

  // The tenant's journey `key` as published in `version` (0 = the latest
  // published). NOT_FOUND for a journey or version that does not exist.
  virtual absl::StatusOr<v1::Journey> Journey(absl::string_view tenant,
                                              absl::string_view key,
                                              int32_t version) = 0;
};

// Asks polku-journey (GetJourney) on behalf of the tenant; blocks for at most
// `timeout`, then DEADLINE_EXCEEDED (or UNAVAILABLE).
class GrpcJourneySource : public JourneySource {
 public:
  explicit GrpcJourneySource(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration timeout = absl::Seconds(2));

  absl::StatusOr<v1::Journey> Journey(absl::string_view tenant,
                                      absl::string_view key,
                                      int32_t version) override;

 private:
  std::unique_ptr<v1::JourneyService::Stub> stub_;
  const absl::Duration timeout_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_JOURNEY_SOURCE_H_
