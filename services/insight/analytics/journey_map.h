// GetJourneyMap's logic: the journey as a grid (stages in journey order as
// columns, channels as rows in first-use order, touchpoints in their cells),
// each touchpoint with its headline metric, interval, sample size, target
// status, trend direction and open alerts.
//
//   absl::StatusOr<v1::JourneyMap> map = ComputeJourneyMap(
//       store, "acme", request, drawn, latest, now, {.min_sample = 30});
//
// * `drawn` is the version to draw; `latest` the latest published version,
//   whose rename chain (former_keys) maps every key onto its current one:
//   metrics always count every version.
// * Range: default the last 28 UTC days up to and including today.
// * Headline metric: the target's (CSAT top-2-box, NPS, CES mean — the first
//   the target sets), else the first of those with answers, else CSAT.
// * Target status: NO_TARGET, INSUFFICIENT_DATA (no answers), MEETS_TARGET
//   (value ≥ target), BELOW_TARGET (the whole interval below), else NEAR_TARGET.
// * Trend: the headline metric in the second half of the range against the
//   first, with the change-alert tests (z-test for shares, Welch for means,
//   a z-test on the difference for NPS) at options.alpha after Holm's
//   adjustment over every arrow of the map; TREND_UNKNOWN when a half has
//   fewer than options.min_sample answers.
#ifndef POLKU_SERVICES_INSIGHT_JOURNEY_MAP_H_
#define POLKU_SERVICES_INSIGHT_JOURNEY_MAP_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/analytics/monitoring.h"
#include "services/insight/store/alert_store.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

inline constexpr int kDefaultMapDays = 28;

absl::StatusOr<v1::JourneyMap> ComputeJourneyMap(
    RollupReader& rollups, AlertStore& alerts, absl::string_view tenant,
    const v1::GetJourneyMapRequest& request, const v1::Journey& drawn,
    const v1::Journey& latest, absl::Time now,
    const MonitoringOptions& options);

// The same, for a store that is both (RollupStore, MemoryRollupStore).
template <typename Store>
absl::StatusOr<v1::JourneyMap> ComputeJourneyMap(
    Store& store, absl::string_view tenant,
    const v1::GetJourneyMapRequest& request, const v1::Journey& drawn,
    const v1::Journey& latest, absl::Time now,
    const MonitoringOptions& options) {
  return ComputeJourneyMap(static_cast<RollupReader&>(store),
                           static_cast<AlertStore&>(store), tenant, request,
                           drawn, latest, now, options);
}

// The direction of `metric` from `first` to `second` (exposed for tests).
v1::TrendDirection DirectionOf(const GroupRollup& first,
                               const GroupRollup& second, v1::Metric metric,
                               const MonitoringOptions& options);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_JOURNEY_MAP_H_
