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
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "lib/stats/scores.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/insight.pb.h"

namespace polku::insight {

// The dimension a scorecard's rows are grouped by.
enum class Grouping {
  kTouchpoint,
  kStage,
  kChannel,
  // One group per UTC day with events: GroupRollup::day is set and the group
  // key is the ISO date, e.g. "2024-03-01". Trends are built from these.
  kDay,
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
  // Filters; empty = no filter. `touchpoints` matches any of the keys (a
  // renamed touchpoint's former keys included), as recorded in the feed.
  std::vector<std::string> touchpoints;
  std::string stage;
  std::string channel;
  // Only events carrying every one of these attributes with exactly this
  // value. Rollups do not hold attributes, so such a query is answered from
  // the counted events (slower, same numbers).
  std::vector<std::pair<std::string, std::string>> attributes;
};

// An operational measure (TouchpointEvent.measures, e.g. `wait_seconds`)
// summed exactly: values are counted in thousandths (rounded half away from
// zero), so sums are integers and adding, subtracting (erasure) and
// rebuilding always give the same answer.
struct MeasureSum {
  int64_t n = 0;
  int64_t sum_milli = 0;
  // Σ (value in thousandths)²; a double would lose exactness, so it is kept
  // as an integer too (saturating is an error, never silent).
  __int128 sum_squares_milli2 = 0;

  double mean() const;
  // Sample variance (n − 1), 0 when n < 2.
  double variance() const;
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
  // By measure name.
  std::map<std::string, MeasureSum> measures;
  // Set for Grouping::kDay.
  Day day = 0;
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

  // Every (tenant, journey) with counted events, ordered; what the change
  // monitor evaluates when it starts.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() = 0;

  // Change alerts (v1::Alert, keyed by tenant and Alert.id): insert or
  // replace each; kept across restarts so first_seen survives.
  virtual absl::Status SaveAlerts(const std::string& tenant,
                                  const std::vector<v1::Alert>& alerts) = 0;
  // A tenant's alerts, of one journey or (empty) every journey, newest
  // first_seen first; cleared ones only if asked.
  virtual absl::StatusOr<std::vector<v1::Alert>> LoadAlerts(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) = 0;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ROLLUP_STORE_H_
