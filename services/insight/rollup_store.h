// Daily rollups of the change feed: what polku-insight keeps so that every
// scorecard metric is exact without re-reading events.
//
// A rollup row is keyed (tenant, journey, journey version, touchpoint, stage,
// channel, day) and holds the event count plus full CSAT, NPS and CES
// histograms. Summing histograms over any day range and grouping gives exact
// NPS, CSAT and CES (DESIGN.md §5), never an average of averages.
//
//   std::unique_ptr<RollupStore> store = …;   // e.g. SqliteRollupStore::Open
//   POLKU_RETURN_IF_ERROR(store->Apply(page.events()));   // one feed page
//   POLKU_ASSIGN_OR_RETURN(GroupedRollups rollups,
//                          store->Scorecard({.tenant = "acme",
//                                            .journey = "switching_operator",
//                                            .group_by =
//                                            Grouping::kTouchpoint}));
#ifndef POLKU_SERVICES_INSIGHT_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_ROLLUP_STORE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "lib/stats/scores.h"
#include "polku/v1/feedback.pb.h"

namespace polku::insight {

// The dimension a scorecard's rows are grouped by.
enum class Grouping {
  kTouchpoint,
  kStage,
  kChannel,
};

// A UTC day as days since 1970-01-01 (negative before it).
using Day = int64_t;
inline constexpr Day kFirstDay = std::numeric_limits<Day>::min();
inline constexpr Day kLastDay = std::numeric_limits<Day>::max();

// The UTC day `time` falls on (rounding towards the past).
Day DayOf(absl::Time time);
// Midnight UTC at the start of `day`.
absl::Time StartOfDay(Day day);

struct ScorecardQuery {
  std::string tenant;
  std::string journey;
  // 0 = every version of the journey.
  int32_t journey_version = 0;
  // Days in [start_day, end_day).
  Day start_day = kFirstDay;
  Day end_day = kLastDay;
  Grouping group_by = Grouping::kTouchpoint;
};

// One group's summed rollups.
struct GroupRollup {
  // The touchpoint, stage or channel key.
  std::string group;
  // Events in the group, rated or not.
  int64_t events = 0;
  stats::CsatHistogram csat{};
  stats::NpsHistogram nps{};
  stats::CesHistogram ces{};
};

struct GroupedRollups {
  // Ordered by group key (byte order).
  std::vector<GroupRollup> groups;
  // Every feed event up to this sequence is counted, none after it.
  int64_t as_of_sequence = 0;
};

// Storage for rollups and the feed checkpoint. Apply is called by one
// thread (the feed tailer); Checkpoint and Scorecard from any thread.
class RollupStore {
 public:
  virtual ~RollupStore() = default;

  // Adds each event's contribution and advances the checkpoint to the last
  // sequence, atomically: after a crash either the whole page counts or none
  // of it does. Events with sequence ≤ the checkpoint were counted already
  // and are ignored, so re-delivering a page is harmless.
  virtual absl::Status Apply(
      const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) = 0;

  // Forgets an erased customer: subtracts exactly what their counted events
  // (erasure.tenant(), erasure.customer_hash()) added, and advances the
  // checkpoint to the erasure's sequence, atomically. An erasure at or below
  // the checkpoint was applied already and is ignored.
  virtual absl::Status ApplyErasure(const v1::Erasure& erasure) = 0;

  // Checks that pages come from the feed the checkpoint belongs to
  // (WatchEventsResponse.feed_id), binding the store to `feed_id` on first
  // use. FAILED_PRECONDITION for another feed: its sequences do not continue
  // this checkpoint, so nothing of it may be applied.
  virtual absl::Status CheckFeed(const std::string& feed_id) = 0;

  // The last applied feed sequence; 0 before the first event.
  virtual absl::StatusOr<int64_t> Checkpoint() = 0;

  // Summed rollups per group of one tenant's journey, with the checkpoint
  // they reflect (read in one snapshot, so the two agree).
  virtual absl::StatusOr<GroupedRollups> Scorecard(
      const ScorecardQuery& query) = 0;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ROLLUP_STORE_H_
