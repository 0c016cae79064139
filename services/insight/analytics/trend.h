// GetTrend's logic, and the per-metric values and 95 % intervals the other
// monitoring calls (journey map, consistency) share.
//
//   absl::StatusOr<v1::Trend> trend =
//       ComputeTrend(store, "acme", request, successors, clock.Now());
//
// Rules a caller sees:
// * scope.journey, metric and range.start are required; MEASURE_MEAN needs
//   `measure`; bucket UNSPECIFIED means DAY; an unset range.end means now.
// * Buckets are UTC days, ISO weeks (Monday 00:00Z) or calendar months; the
//   range is rounded outwards to whole buckets and echoed. At most
//   kMaxTrendBuckets buckets.
// * Every bucket is returned, oldest first, empty ones with n = 0 and no
//   value. n counts answers (events for EVENT_COUNT, measurements for
//   MEASURE_MEAN).
// * Intervals (docs/monitoring.md, GetTrend): Wilson for shares, the NPS formula for NPS,
//   mean ± t(0.975, n − 1)·s/√n for means (none for n < 2 or EVENT_COUNT).
// * With scope.journey_version 0 a touchpoint filter also matches the keys
//   the touchpoint had before renames (`successors`).
//
// The store is asked once, grouped by day; days are summed into buckets.
#ifndef POLKU_SERVICES_INSIGHT_TREND_H_
#define POLKU_SERVICES_INSIGHT_TREND_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/stats/scores.h"
#include "polku/v1/insight.pb.h"
#include "services/insight/store/rollup_reader.h"
#include "services/insight/analytics/scorecard.h"

namespace polku::insight {

inline constexpr int64_t kMaxTrendBuckets = 1000;

// A metric of one summed rollup.
struct MetricValue {
  // Answers it rests on (see TrendPoint.n).
  int64_t n = 0;
  // Unset when n is 0.
  std::optional<double> value;
  // Unset when n is 0, for EVENT_COUNT, and for a mean of fewer than 2.
  std::optional<stats::Interval> ci95;
};
MetricValue ValueOf(const GroupRollup& rollup, v1::Metric metric,
                    const std::string& measure = "");

// mean ± t(0.975, n − 1)·√(variance/n); n ≥ 2.
stats::Interval MeanInterval(int64_t n, double mean, double variance);

// The first day of the bucket `day` lies in, and the first day of the next.
Day BucketStart(Day day, v1::Bucket bucket);
Day NextBucket(Day bucket_start, v1::Bucket bucket);

// INVALID_ARGUMENT naming `field` unless `metric` is a known value other
// than METRIC_UNSPECIFIED, and MEASURE_MEAN comes with a measure.
absl::Status CheckMetric(v1::Metric metric, const std::string& measure,
                         absl::string_view field);

absl::StatusOr<v1::Trend> ComputeTrend(RollupReader& store,
                                       absl::string_view tenant,
                                       const v1::GetTrendRequest& request,
                                       const TouchpointSuccessors& successors,
                                       absl::Time now);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_TREND_H_
