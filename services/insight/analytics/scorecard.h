// GetScorecard's logic: validates a request, reads the tenant's grouped
// rollups and turns their histograms into NPS, CSAT and CES (docs/monitoring.md, README,
// computed by lib/stats).
//
//   absl::StatusOr<v1::Scorecard> card =
//       ComputeScorecard(store, /*tenant=*/"acme", request);
//
// Rules a caller sees:
// * `journey` is required; `journey_version` 0 means every version.
// * `range` is half-open [start, end); rollups are daily, so start is rounded
//   down and end up to UTC midnight (a day counts if the range touches it:
//   "today so far" covers today), and the response echoes the effective
//   range. An unset bound is open. start ≥ end is INVALID_ARGUMENT.
// * With `journey_version` 0 and touchpoint grouping, a touchpoint's rows
//   under the keys it had before a rename count under its current key
//   (`successors`, from the journey's rename chain); for one version, keys
//   are as that version had them.
// * `group_by` UNSPECIFIED means touchpoint; the response says which was used.
// * Rows are ordered by group key; `total` sums every group; a metric is set
//   only when it has at least one answer.
// * `attributes` keeps only events carrying each attribute with that value.
// * A journey without data gives an empty scorecard (total events 0): insight
//   does not own journeys and cannot tell "unknown" from "quiet".
#ifndef POLKU_SERVICES_INSIGHT_SCORECARD_H_
#define POLKU_SERVICES_INSIGHT_SCORECARD_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "google/protobuf/timestamp.pb.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

// An earlier touchpoint key → the key the touchpoint has now.
using TouchpointSuccessors = absl::flat_hash_map<std::string, std::string>;

// The successors a journey version's touchpoints declare (their
// former_keys): the latest version alone holds the whole chain.
TouchpointSuccessors SuccessorsOf(const v1::Journey& journey);

absl::StatusOr<v1::Scorecard> ComputeScorecard(
    RollupReader& store, absl::string_view tenant,
    const v1::GetScorecardRequest& request,
    const TouchpointSuccessors& successors = {});

// One row's metrics from its histograms (exposed for tests).
v1::ScorecardRow RowFromRollup(const GroupRollup& rollup);

// Building blocks the other InsightService calls share.

// The UTC day a range bound falls on; INVALID_ARGUMENT naming `field` for a
// timestamp outside google.protobuf.Timestamp's range.
absl::StatusOr<Day> DayOfBound(const google::protobuf::Timestamp& bound,
                               absl::string_view field);
// The first day a range ending (exclusively) at `end` does not cover: the
// day after the one `end` falls on, unless `end` is exactly midnight.
absl::StatusOr<Day> EndDayOfBound(const google::protobuf::Timestamp& end,
                                  absl::string_view field);
// The days [first, second) `range` covers, start rounded down and end up;
// an unset bound is `open_start` or `open_end`. INVALID_ARGUMENT naming the
// field for an invalid bound or start ≥ end.
absl::StatusOr<std::pair<Day, Day>> DaysOfRange(const v1::TimeRange& range,
                                                Day open_start, Day open_end);
// Midnight UTC at the start of `day`.
void SetMidnight(Day day, google::protobuf::Timestamp& out);

// Adds `from`'s counts, histograms and measure sums into `into`.
void AddRollup(GroupRollup& into, const GroupRollup& from);

// Groups keyed by an earlier touchpoint key folded into their current key's,
// ordered by key.
std::vector<GroupRollup> MergeRenamed(std::vector<GroupRollup> groups,
                                      const TouchpointSuccessors& successors);

// A request's attribute filter as the store takes it (sorted by name);
// INVALID_ARGUMENT naming `field` for an empty attribute name.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
AttributeFilter(const google::protobuf::Map<std::string, std::string>& attributes,
                absl::string_view field);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SCORECARD_H_
