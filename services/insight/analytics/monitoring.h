// Continuous quality monitoring (docs/monitoring.md): change alerts against a
// baseline window, and the consistency of one stage across channels. Pure
// functions over summed rollups; the service decides which windows and
// groups to compare.
//
//   // Last 7 days against the 28 before, per touchpoint:
//   std::vector<WindowComparison> windows = {{.scope = "touchpoint",
//                                             .baseline = baseline_rollups,
//                                             .current = current_rollups}};
//   for (const ChangeAlert& alert : DetectChanges(windows, {})) { … }
//
//   // The purchase stage, one GroupRollup per channel:
//   ConsistencyReport report = CompareChannels(per_channel, {});
//
// Shares are compared with the two-proportion z-test, means with Welch's
// t-test; a minimum sample size guards both windows, and Holm's adjustment
// over every comparison of one evaluation keeps false alarms at α overall.
#ifndef POLKU_SERVICES_INSIGHT_MONITORING_H_
#define POLKU_SERVICES_INSIGHT_MONITORING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "polku/v1/insight.pb.h"
#include "services/insight/store/rollups.h"

namespace polku::insight {

// The monitored metrics.
enum class Metric {
  kCsatTop2Box,         // share of CSAT answers 4–5
  kNpsPromoterShare,    // share of NPS answers 9–10
  kNpsDetractorShare,   // share of NPS answers 0–6
  kCesMean,             // mean CES, 1–7
  // Mean of an operational measure (GroupRollup::measures), named beside it.
  // Not in kAllMetrics: which measures exist depends on the data.
  kMeasureMean,
};
inline constexpr Metric kAllMetrics[] = {Metric::kCsatTop2Box, Metric::kNpsPromoterShare,
                                         Metric::kNpsDetractorShare, Metric::kCesMean};

// The v1::Metric of a monitored metric.
v1::Metric ToProtoMetric(Metric metric);

// "csat_top2_box", "nps_promoter_share", "nps_detractor_share", "ces_mean",
// "measure_mean".
const char* MetricName(Metric metric);

// A metric's value in one sample: the share or mean, the answers it rests on
// and what its test needs.
struct MetricSample {
  double value = 0;
  int64_t n = 0;
  int64_t successes = 0;   // shares only
  double variance = 0;     // means only
};
// `measure` names the measure for kMeasureMean and is ignored otherwise.
MetricSample SampleOf(const GroupRollup& rollup, Metric metric,
                      const std::string& measure = "");

// Whether a change by `effect` (after − before) is for the worse: lower CSAT
// top-2-box, promoter share or CES (7 = very easy), more detractors, and a
// higher operational measure (measures are waits, handling times, costs).
bool IsWorse(Metric metric, double effect);

struct MonitoringOptions {
  // Fewer answers than this in either sample: no test, no alert.
  int64_t min_sample = 30;
  // Family-wise significance level after Holm's adjustment.
  double alpha = 0.01;
};

// The same groups in two windows: `scope` names the grouping ("touchpoint",
// "stage" or "channel"); groups are matched by key.
struct WindowComparison {
  std::string scope;
  std::vector<GroupRollup> baseline;
  std::vector<GroupRollup> current;
};

struct ChangeAlert {
  std::string scope;
  std::string key;
  Metric metric;
  // The measure's name for kMeasureMean, else empty.
  std::string measure;
  double before = 0;
  double after = 0;
  // after − before.
  double effect = 0;
  int64_t baseline_n = 0;
  int64_t current_n = 0;
  double p_value = 1;
  // Holm-adjusted over every test of the evaluation.
  double adjusted_p_value = 1;
  // adjusted_p_value < alpha.
  bool significant = false;
};

// Every comparison that could be tested (both samples have min_sample
// answers and some variation), significant or not, in input order: groups
// matched by key, the metrics of kAllMetrics and then each measure present
// in both windows. What a monitor needs to tell "recovered" from "not
// measurable this time".
std::vector<ChangeAlert> CompareWindows(const std::vector<WindowComparison>& windows,
                                        const MonitoringOptions& options);

// Every significant change, ordered by adjusted p-value (most certain first).
std::vector<ChangeAlert> DetectChanges(const std::vector<WindowComparison>& windows,
                                       const MonitoringOptions& options);

// One channel's metric in the stage, tested against the other channels pooled.
struct ChannelMetric {
  std::string channel;
  MetricSample sample;
  bool tested = false;
  // This channel's value minus the other channels' pooled value: negative
  // where the channel does worse on CSAT or promoters, better on detractors.
  double effect = 0;
  double p_value = 1;
  double adjusted_p_value = 1;
  // Differs from the rest of the stage at the adjusted level.
  bool significant = false;
};

struct MetricConsistency {
  Metric metric;
  std::vector<ChannelMetric> channels;  // in input order
  // Highest minus lowest value among channels with at least min_sample answers.
  double spread = 0;
  // Some channel differs significantly from the others.
  bool inconsistent = false;
};

struct ConsistencyReport {
  std::vector<MetricConsistency> metrics;  // in kAllMetrics order
};

// Is the experience the same whichever channel the customer uses (seed 000)?
// `channels` holds one GroupRollup per channel of one stage.
ConsistencyReport CompareChannels(const std::vector<GroupRollup>& channels,
                                  const MonitoringOptions& options);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_MONITORING_H_
