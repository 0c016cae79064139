// The rules a touchpoint event must pass before it is stored. A pure
// function of the event, the caller, the touchpoint index and the time, so
// that every rule is tested on its own and the reason a channel system sees
// is exactly the one documented here.
//
//   EventValidation v = ValidateEvent(event, {.tenant = "demo", .channel =
//   "shop"},
//                                     *index.Current(), clock.Now());
//   if (const auto* rejection = std::get_if<EventRejection>(&v)) {
//     // rejection->field == "csat", rejection->reason == "csat must be 1–5,
//     got 7"
//   }
//
// Field names are relative to the event ("csat", "measures.wait_seconds");
// the service prefixes the event's position ("events[3].csat").
#ifndef POLKU_SERVICES_FEEDBACK_EVENT_VALIDATION_H_
#define POLKU_SERVICES_FEEDBACK_EVENT_VALIDATION_H_

#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/common.pb.h"
#include "services/feedback/touchpoint_index.h"

namespace polku::feedback {

// Limits channel systems can rely on; changing one is an API change.
inline constexpr size_t kMaxEventIdBytes = 128;
inline constexpr size_t kMaxCustomerBytes = 256;
inline constexpr size_t kMaxCommentBytes = 4000;
inline constexpr size_t kMaxMeasures = 32;
inline constexpr size_t kMaxAttributes = 32;
inline constexpr size_t kMaxMapKeyBytes = 64;
inline constexpr size_t kMaxAttributeValueBytes = 256;
// A measure's largest magnitude. polku-insight sums measures exactly, in
// integer thousandths with 128-bit sums of squares; this bound keeps every
// value and ~10¹⁴ of them summed within those integers, so nothing accepted
// is left out of a metric.
inline constexpr double kMaxMeasureValue = 1e9;
// Clocks of channel systems drift; more than this ahead is a bug, not drift.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// Why an event was not accepted.
struct EventRejection {
  // The offending field, relative to the event.
  std::string field;
  std::string reason;

  bool operator==(const EventRejection&) const = default;
};

// Where the event's touchpoint sits, or why the event is rejected.
using EventValidation = std::variant<ResolvedTouchpoint, EventRejection>;

// The caller as vouched for by the gateway.
struct EventSource {
  std::string tenant;
  std::string channel;
};

// Checks `event`, submitted by `source`, against the tenant's latest
// published journeys in `index`, at time `now`. Reports the first broken
// rule, in field order.
//
// With `history_version` > 0 (back-filled history; see
// SubmitEventsRequest.history_version) the event must name its journey,
// which must have that version; if the event occurred before the journey's
// first version was published, it is validated against (and resolves to)
// version `history_version` instead of the latest.
EventValidation ValidateEvent(const polku::v1::TouchpointEvent& event,
                              const EventSource& source,
                              const TouchpointSnapshot& index, absl::Time now,
                              int32_t history_version = 0);

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_EVENT_VALIDATION_H_
