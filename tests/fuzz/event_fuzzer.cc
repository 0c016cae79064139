// A TouchpointEvent as gRPC hands it over (any bytes), validated against a
// published journey (services/feedback/event_validation.h): no input
// crashes the parse or the rules, a rejection names a field and a reason,
// and an accepted event sits at a touchpoint of the journey.
#include <cstdint>
#include <cstdlib>

#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "polku/v1/common.pb.h"
#include "services/feedback/event_validation.h"
#include "services/feedback/touchpoint_index.h"

namespace {

const polku::feedback::TouchpointIndex& Index() {
  static const polku::feedback::TouchpointIndex* index = [] {
    auto* index = new polku::feedback::TouchpointIndex;
    google::protobuf::RepeatedPtrField<polku::v1::PublishedJourney> journeys;
    for (const char* tenant : {"demo", "other"}) {
      polku::v1::PublishedJourney* published = journeys.Add();
      published->set_tenant(tenant);
      polku::v1::Journey* journey = published->mutable_journey();
      journey->set_key("j");
      journey->set_version(1);
      journey->set_state(polku::v1::PUBLISHED);
      for (const char* key : {"store_visit", "call", "web_form"}) {
        polku::v1::Touchpoint* touchpoint = journey->add_touchpoints();
        touchpoint->set_key(key);
        touchpoint->set_stage("buy");
        touchpoint->set_channel(key[0] == 's'   ? "shop"
                                : key[0] == 'c' ? "phone"
                                                : "web");
      }
    }
    index->Reset(journeys);
    return index;
  }();
  return *index;
}

}  // namespace

// protobuf logs every string with invalid UTF-8 it refuses: noise here.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  polku::v1::TouchpointEvent event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  const absl::Time now = absl::FromUnixSeconds(1767225600);  // 2026-01-01
  auto validation = polku::feedback::ValidateEvent(
      event, {.tenant = "demo", .channel = "shop"}, *Index().Current(), now);
  if (const auto* rejection =
          std::get_if<polku::feedback::EventRejection>(&validation)) {
    if (rejection->field.empty() || rejection->reason.empty()) std::abort();
    return 0;
  }
  const auto& where = std::get<polku::feedback::ResolvedTouchpoint>(validation);
  if (where.journey != "j" || where.stage != "buy" ||
      event.touchpoint() != "store_visit") {
    std::abort();
  }
  return 0;
}
