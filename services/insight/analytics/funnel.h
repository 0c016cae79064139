// Stage funnels (FunnelsService.GetFunnel; docs/funnels.md): from the
// ledger's single events, per customer the stages of the journey map they
// reached, in order or in any order, each within the conversion window of
// the previous; customers whose window had not passed at the range's end
// are in progress, not dropped, and conversion is estimated with them as
// censored (Kaplan–Meier).
//
//   POLKU_ASSIGN_OR_RETURN(v1::Funnel funnel,
//                          ComputeFunnel(ledger, "acme", request, journey,
//                                        absl::Now()));
//
// Two layers, so that a test can check the counts on a log it wrote itself:
// ReadFunnelLog (the ledger, one scan, as compact per-customer touches) and
// EvaluateFunnel (the pure arithmetic over such a log).
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/funnels.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

class TouchIndex;

// One event of a customer as a funnel sees it.
struct FunnelTouch {
  // Unix microseconds.
  int64_t at = 0;
  int64_t sequence = 0;
  // Index into FunnelNames::stages (channels, touchpoints likewise).
  int32_t stage = 0;
  int32_t channel = 0;
  int32_t touchpoint = 0;
  // Index into FunnelNames::groups (the breakdown's value of this event).
  int32_t group = 0;
  // Carries a CSAT, NPS or CES answer.
  bool rated = false;
  // The answers; -1 = none.
  int8_t csat = -1;
  int8_t nps = -1;
  int8_t ces = -1;
};

// What touches' indices refer to.
struct FunnelNames {
  // The journey's stages first, in journey order, then stage keys seen in
  // events but absent from the map.
  std::vector<std::string> stages;
  std::vector<std::string> channels;
  std::vector<std::string> touchpoints;
  // Breakdown values (FunnelTouch::group).
  std::vector<std::string> groups;
};

// What an evaluation reads: each customer's touches in time order (then
// sequence). A ledger read (FunnelLog) or the in-memory touch index
// (touch_index.h) with a query's filters (UseTouchIndex).
class FunnelSource {
 public:
  virtual ~FunnelSource() = default;
  virtual const FunnelNames& Names() const = 0;
  virtual size_t customers() const = 0;
  // Customer `c`'s touches that count, in order, into `out` (cleared first).
  virtual void Touches(size_t c, std::vector<FunnelTouch>& out) const = 0;
};

// Every customer's touches, each customer's in time order (then sequence).
struct FunnelLog final : FunnelSource {
  FunnelNames names;
  std::vector<FunnelTouch> touches;
  // Customer c's touches are [offsets[c], offsets[c + 1]).
  std::vector<uint32_t> offsets = {0};
  int64_t as_of_sequence = 0;

  const FunnelNames& Names() const override { return names; }
  size_t customers() const override { return offsets.size() - 1; }
  void Touches(size_t c, std::vector<FunnelTouch>& out) const override {
    out.assign(touches.begin() + offsets[c], touches.begin() + offsets[c + 1]);
  }
};

// What a funnel is asked for.
struct FunnelSpec {
  // Indices into the log's stages: the funnel's steps, and the optional
  // stages whose take-up is reported.
  std::vector<int32_t> steps;
  std::vector<int32_t> optional;
  bool any_order = false;
  int64_t window_micros = 0;
  // In-progress is judged at this time (Unix microseconds).
  int64_t as_of = 0;
};

// The funnel of `source`: stages, optional stages, bottleneck, customers,
// in_progress and, with `by_group`, groups and breakdown_test; stage names
// come from `journey`.
v1::Funnel EvaluateFunnel(const FunnelSource& source, const FunnelSpec& spec,
                          const v1::Journey& journey, bool by_group);

// Each customer's furthest step (1-based; 0 = not in the funnel) and
// whether that is final (the last step, or dropped after the window), for
// the tests of difference.
struct FunnelOutcome {
  int32_t level = 0;
  bool known = false;
  int32_t group = 0;
};
std::vector<FunnelOutcome> FunnelOutcomes(const FunnelSource& source,
                                          const FunnelSpec& spec);

// The events of `query` with occurred_at in [start, end) as a FunnelLog;
// events without a customer are left out. `group_of` names an event's
// breakdown group.
enum class GroupBy { kNone, kEntryChannel, kAttribute, kJourneyVersion };
absl::StatusOr<FunnelLog> ReadFunnelLog(LedgerReader& ledger,
                                        const ScorecardQuery& query,
                                        int64_t start, int64_t end,
                                        const v1::Journey& journey,
                                        GroupBy group_by,
                                        absl::string_view attribute);

// What GetFunnel and GetPaths check of their scope and range:
// INVALID_ARGUMENT naming the field for a stage, touchpoint or range in the
// scope, a missing or invalid range start, an end not after it (an unset
// end is `now`). Sets [start, end) in Unix microseconds.
absl::Status CheckFunnelScope(const v1::Scope& scope);
absl::Status ResolveRange(const v1::TimeRange& range, absl::string_view field,
                          int64_t now, int64_t* start, int64_t* end);
// The store's query for `scope` over [start, end) (rounded out to days).
absl::StatusOr<ScorecardQuery> PeriodQuery(const v1::Scope& scope,
                                           absl::string_view tenant,
                                           int64_t start, int64_t end);

// Whether a call is answered from `index` (if any): not with attribute
// filters or an attribute breakdown, which it does not hold.
bool UsesIndex(const TouchIndex* index, const v1::Scope& scope,
               GroupBy group_by);
// What a call asks of the touch index: events in [start, end) (Unix
// microseconds), of one channel ("" = all) and journey version (0 = all),
// grouped by the entry touch's channel or version (kNone, kEntryChannel,
// kJourneyVersion).
struct FunnelIndexQuery {
  int64_t start = 0;
  int64_t end = 0;
  std::string channel;
  int32_t journey_version = 0;
  GroupBy group_by = GroupBy::kNone;
};
// Brings `journey` up to date in `index` and runs `use` on its touches as
// `query` selects them, with the checkpoint they reflect. The source's stage
// names include every stage of `journey`.
absl::Status UseTouchIndex(
    TouchIndex& index, const std::string& tenant, const v1::Journey& journey,
    const FunnelIndexQuery& query,
    absl::FunctionRef<void(const FunnelSource& source, int64_t as_of)> use);
// `spec` (steps as positions in `journey`'s stages) for a source whose stage
// names are `names` (which hold every stage of the journey).
FunnelSpec ForNames(const FunnelSpec& spec, const v1::Journey& journey,
                    const FunnelNames& names);

// The whole answer: validates `request` (INVALID_ARGUMENT naming the
// field), reads the ledger once per period and evaluates.
// With `index`, a request without attribute filters or an attribute
// breakdown is answered from it (the same numbers, from memory).
absl::StatusOr<v1::Funnel> ComputeFunnel(LedgerReader& ledger,
                                         absl::string_view tenant,
                                         const v1::GetFunnelRequest& request,
                                         const v1::Journey& journey,
                                         absl::Time now,
                                         TouchIndex* index = nullptr);

// GetPaths: validates `request` (INVALID_ARGUMENT naming the field), reads
// the ledger once and counts paths, switches and satisfaction.
absl::StatusOr<v1::Paths> ComputePaths(LedgerReader& ledger,
                                       absl::string_view tenant,
                                       const v1::GetPathsRequest& request,
                                       const v1::Journey& journey,
                                       absl::Time now,
                                       TouchIndex* index = nullptr);

// The paths of `source` (customers, paths, switching, satisfaction).
v1::Paths EvaluatePaths(const FunnelSource& source,
                        int64_t switch_within_micros, int top);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_H_
