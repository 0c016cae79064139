// What a feed event adds to the rollups, independent of the database that
// keeps them: every backend of RollupStore (SQLite, PostgreSQL, memory)
// counts through these functions, so they hold the same numbers to the last
// thousandth.
//
//   CountedEvent event = FromFeed(stored);          // as counted
//   Contribution& c = contributions[event.key];
//   POLKU_RETURN_IF_ERROR(Count(event, c));         // histograms, measures
//   std::string attributes = EncodePairs(event.attributes);  // ledger text
//
// Canonical text (counted_events.attributes and .measures): "key=value"
// pairs sorted by key and joined by '&', with '%', '&' and '=' in keys and
// values percent-escaped (and NUL as %00); measure values are integer
// thousandths.
#ifndef POLKU_SERVICES_INSIGHT_STORE_ROLLUP_MATH_H_
#define POLKU_SERVICES_INSIGHT_STORE_ROLLUP_MATH_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "polku/v1/feedback.pb.h"
#include "services/insight/store/rollups.h"

namespace polku::insight {

// Histogram columns in the order they are bound and read: csat_1..csat_5,
// nps_0..nps_10, ces_1..ces_7 (the column names of both schemas).
const std::vector<std::string>& HistogramColumns();
inline constexpr int kHistogramColumns = 5 + 11 + 7;

// (tenant, journey, journey version, touchpoint, stage, channel, day): one
// rollup row.
using RollupKey = std::tuple<std::string, std::string, int32_t, std::string,
                             std::string, std::string, Day>;

// A counted event as the ledger (counted_events and event_details) holds it:
// what the rollups count, and what analytics that need single events read
// (funnels: the order and time of a customer's events; themes: the comment).
struct CountedEvent {
  int64_t sequence = 0;
  std::string customer_hash;
  // key's day is the UTC day of occurred_at.
  RollupKey key;
  // Unix microseconds. Events counted before schema version 6 (SQLite; 2 on
  // PostgreSQL) kept only the day: theirs is that day's midnight.
  int64_t occurred_at_micros = 0;
  // As polku-feedback stored it (already redacted); empty for events
  // counted before those versions.
  std::string comment;
  std::string language;
  // Only in-range scores: out-of-range ones were left out when counted.
  std::optional<int> csat;
  std::optional<int> nps;
  std::optional<int> ces;
  // Sorted by key; measures in thousandths.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, int64_t>> measures;
};

// The day an event counted before its occurred_at was kept: its midnight.
int64_t MidnightMicros(Day day);

// The event as counted. polku-feedback rejects out-of-range scores and
// non-finite measures; one slipping through is logged and left out rather
// than stopping the whole feed.
CountedEvent FromFeed(const v1::StoredEvent& stored);

// What a set of events adds to one group or rollup row.
struct Contribution {
  int64_t events = 0;
  std::array<int64_t, kHistogramColumns> histogram{};  // HistogramColumns order
  std::map<std::string, MeasureSum> measures;
};

// Adds one counted event; OUT_OF_RANGE if a measure sum would overflow.
absl::Status Count(const CountedEvent& event, Contribution& c);

// The stored measure sum after adding (sign 1) or subtracting (sign -1)
// `add`; nullopt when no values are left (the row is to be deleted).
// OUT_OF_RANGE on overflow, DATA_LOSS when the stored sums were not what
// was added (a sum without values, a negative count).
absl::StatusOr<std::optional<MeasureSum>> NextMeasureSum(
    const MeasureSum& stored, const MeasureSum& add, int64_t sign,
    absl::string_view measure);

// Σ squares as stored in SQL integers: high · 2⁶⁴ + mid · 2³² + low, with
// 0 ≤ mid, low < 2³², so that each part can be summed over rows.
struct SquaresParts {
  int64_t high = 0;
  int64_t mid = 0;
  int64_t low = 0;
};
SquaresParts SplitSquares(__int128 squares);  // squares ≥ 0
// Joins parts, each possibly a SQL sum of many rows' parts.
absl::StatusOr<__int128> JoinSquares(const SquaresParts& parts,
                                     absl::string_view measure);

// Canonical text of attributes (`pairs` sorted by key) and measures.
std::string EncodePairs(
    const std::vector<std::pair<std::string, std::string>>& pairs);
std::vector<std::pair<std::string, std::string>> DecodePairs(
    absl::string_view encoded);
std::string EncodeMeasures(
    const std::vector<std::pair<std::string, int64_t>>& measures);
absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> DecodeMeasures(
    absl::string_view encoded);

// Whether `have` holds every pair of `wanted`.
bool HasAttributes(
    const std::vector<std::pair<std::string, std::string>>& have,
    const std::vector<std::pair<std::string, std::string>>& wanted);

// `event` with only `fields` besides its sequence, key and scores: the rest
// left out as a ledger scan that did not ask for it leaves it (occurred_at
// then at the day's midnight).
CountedEvent WithFields(const CountedEvent& event, const LedgerFields& fields);

// Whether `key` is within the query's tenant, journey, versions, days,
// touchpoints, stage and channel (its attributes aside): what the SQL
// backends' WHERE clause keeps.
bool InScope(const ScorecardQuery& query, const RollupKey& key);

// "2024-03-01": the group key of Grouping::kDay.
std::string IsoDate(Day day);

// A scorecard group from summed contributions.
GroupRollup ToGroup(std::string group, Day day, Contribution c);

int64_t UnixMicros(const google::protobuf::Timestamp& timestamp);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ROLLUP_MATH_H_
