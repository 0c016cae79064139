// GetConsistency's logic: per stage of a journey, in journey order, each
// monitored metric per channel, tested against the stage's other channels
// pooled (monitoring.h CompareChannels: Holm over every test of the stage).
//
//   absl::StatusOr<v1::Consistency> consistency =
//       ComputeConsistency(store, "acme", request, journey, {.min_sample = 30});
//
// * `journey` is the definition (stage order and names); `request.stage`
//   empty = every stage, else NOT_FOUND unless the journey has it.
// * `range` as in GetScorecard (unset bounds open); `journey_version` 0 =
//   every version.
// * Channels appear in key order; a channel without answers for a metric
//   has n = 0 and no value.
#ifndef POLKU_SERVICES_INSIGHT_CONSISTENCY_H_
#define POLKU_SERVICES_INSIGHT_CONSISTENCY_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/insight/analytics/monitoring.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

absl::StatusOr<v1::Consistency> ComputeConsistency(
    RollupReader& store, absl::string_view tenant,
    const v1::GetConsistencyRequest& request, const v1::Journey& journey,
    const MonitoringOptions& options);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_CONSISTENCY_H_
