// The numbers polku-insight keeps: daily rollups (per tenant, journey,
// journey version, touchpoint, stage, channel and UTC day: the event count
// and full CSAT, NPS and CES histograms, exact sums of the operational
// measures) and what a query asks of them. Summing histograms over any day
// range and grouping gives exact NPS, CSAT and CES (docs/monitoring.md),
// never an average of averages.
//
//   ScorecardQuery query{.tenant = "acme", .journey = "switching",
//                        .group_by = Grouping::kStage};
//   POLKU_ASSIGN_OR_RETURN(GroupedRollups rollups, reader.Scorecard(query));
#ifndef POLKU_SERVICES_INSIGHT_STORE_ROLLUPS_H_
#define POLKU_SERVICES_INSIGHT_STORE_ROLLUPS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "lib/stats/scores.h"

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

// What a ledger scan reads of each event besides its sequence, key and
// scores. A reader that needs less is served with less to decode (the
// theme index reads neither customers nor attributes and measures); what
// is not read is left empty.
struct LedgerFields {
  bool details = true;   // occurred_at, comment and language
  bool customer = true;  // customer_hash
  bool pairs = true;     // attributes and measures
};

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
  // Ledger scans only: just the events with a greater sequence (0 = all),
  // for readers that keep what they read and add only what is new.
  int64_t after_sequence = 0;
  // Ledger scans only: what to read of each event (attributes whenever
  // the query filters by them).
  LedgerFields fields;
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

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ROLLUPS_H_
