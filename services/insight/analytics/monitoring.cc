#include "services/insight/analytics/monitoring.h"

#include <algorithm>
#include <map>

#include "lib/stats/significance.h"

namespace polku::insight {
namespace {

bool IsShare(Metric metric) {
  return metric != Metric::kCesMean && metric != Metric::kMeasureMean;
}

stats::TestResult Test(Metric metric, const MetricSample& a, const MetricSample& b) {
  if (IsShare(metric)) {
    return stats::TwoProportionZTest({a.successes, a.n}, {b.successes, b.n});
  }
  return stats::WelchTTest({a.n, a.value, a.variance}, {b.n, b.value, b.variance});
}

GroupRollup Sum(const std::vector<const GroupRollup*>& rollups) {
  GroupRollup sum;
  for (const GroupRollup* rollup : rollups) {
    sum.events += rollup->events;
    for (size_t k = 0; k < sum.csat.size(); ++k) sum.csat[k] += rollup->csat[k];
    for (size_t k = 0; k < sum.nps.size(); ++k) sum.nps[k] += rollup->nps[k];
    for (size_t k = 0; k < sum.ces.size(); ++k) sum.ces[k] += rollup->ces[k];
  }
  return sum;
}

MetricSample Share(int64_t successes, int64_t n) {
  MetricSample sample{.n = n, .successes = successes};
  if (n > 0) sample.value = static_cast<double>(successes) / static_cast<double>(n);
  return sample;
}

}  // namespace

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kCsatTop2Box: return "csat_top2_box";
    case Metric::kNpsPromoterShare: return "nps_promoter_share";
    case Metric::kNpsDetractorShare: return "nps_detractor_share";
    case Metric::kCesMean: return "ces_mean";
    case Metric::kMeasureMean: return "measure_mean";
  }
  return "unknown";
}

bool IsWorse(Metric metric, double effect) {
  switch (metric) {
    case Metric::kNpsDetractorShare:
    case Metric::kMeasureMean:
      return effect > 0;
    default:
      return effect < 0;
  }
}

MetricSample SampleOf(const GroupRollup& rollup, Metric metric, const std::string& measure) {
  switch (metric) {
    case Metric::kCsatTop2Box: {
      stats::CsatSummary csat = stats::SummarizeCsat(rollup.csat);
      return Share(rollup.csat[3] + rollup.csat[4], csat.responses);
    }
    case Metric::kNpsPromoterShare: {
      stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
      return Share(nps.promoters, nps.responses);
    }
    case Metric::kNpsDetractorShare: {
      stats::NpsSummary nps = stats::SummarizeNps(rollup.nps);
      return Share(nps.detractors, nps.responses);
    }
    case Metric::kCesMean: {
      stats::Moments moments =
          stats::MomentsOfHistogram(rollup.ces.data(), static_cast<int>(rollup.ces.size()), 1);
      return MetricSample{.value = moments.mean, .n = moments.n, .variance = moments.variance};
    }
    case Metric::kMeasureMean: {
      auto sum = rollup.measures.find(measure);
      if (sum == rollup.measures.end()) return {};
      return MetricSample{
          .value = sum->second.mean(), .n = sum->second.n, .variance = sum->second.variance()};
    }
  }
  return {};
}

std::vector<ChangeAlert> CompareWindows(const std::vector<WindowComparison>& windows,
                                        const MonitoringOptions& options) {
  std::vector<ChangeAlert> tested;
  std::vector<double> p_values;
  const auto compare = [&](const std::string& scope, const GroupRollup& baseline,
                           const GroupRollup& current, Metric metric,
                           const std::string& measure) {
    MetricSample a = SampleOf(baseline, metric, measure);
    MetricSample b = SampleOf(current, metric, measure);
    if (a.n < options.min_sample || b.n < options.min_sample) return;
    stats::TestResult result = Test(metric, a, b);
    if (!result.valid) return;
    tested.push_back(ChangeAlert{.scope = scope,
                                 .key = current.group,
                                 .metric = metric,
                                 .measure = measure,
                                 .before = a.value,
                                 .after = b.value,
                                 .effect = b.value - a.value,
                                 .baseline_n = a.n,
                                 .current_n = b.n,
                                 .p_value = result.p_value});
    p_values.push_back(result.p_value);
  };
  for (const WindowComparison& window : windows) {
    std::map<std::string, const GroupRollup*> baseline;
    for (const GroupRollup& group : window.baseline) baseline[group.group] = &group;
    for (const GroupRollup& group : window.current) {
      auto before = baseline.find(group.group);
      if (before == baseline.end()) continue;
      for (Metric metric : kAllMetrics) {
        compare(window.scope, *before->second, group, metric, "");
      }
      for (const auto& [measure, sum] : group.measures) {
        if (before->second->measures.count(measure) == 0) continue;
        compare(window.scope, *before->second, group, Metric::kMeasureMean, measure);
      }
    }
  }
  // Every test of this evaluation counts towards the correction, not only
  // the ones that turn out significant.
  std::vector<double> adjusted = stats::HolmAdjust(p_values);
  for (size_t i = 0; i < tested.size(); ++i) {
    tested[i].adjusted_p_value = adjusted[i];
    tested[i].significant = adjusted[i] < options.alpha;
  }
  return tested;
}

std::vector<ChangeAlert> DetectChanges(const std::vector<WindowComparison>& windows,
                                       const MonitoringOptions& options) {
  std::vector<ChangeAlert> alerts;
  for (ChangeAlert& comparison : CompareWindows(windows, options)) {
    if (comparison.significant) alerts.push_back(std::move(comparison));
  }
  std::stable_sort(alerts.begin(), alerts.end(), [](const ChangeAlert& a, const ChangeAlert& b) {
    return a.adjusted_p_value < b.adjusted_p_value;
  });
  return alerts;
}

ConsistencyReport CompareChannels(const std::vector<GroupRollup>& channels,
                                  const MonitoringOptions& options) {
  ConsistencyReport report;
  std::vector<double> p_values;
  std::vector<ChannelMetric*> tested;
  for (Metric metric : kAllMetrics) {
    MetricConsistency& consistency = report.metrics.emplace_back();
    consistency.metric = metric;
    double lowest = 0, highest = 0;
    bool any = false;
    for (size_t i = 0; i < channels.size(); ++i) {
      ChannelMetric& entry = consistency.channels.emplace_back();
      entry.channel = channels[i].group;
      entry.sample = SampleOf(channels[i], metric);
      if (entry.sample.n < options.min_sample) continue;
      lowest = any ? std::min(lowest, entry.sample.value) : entry.sample.value;
      highest = any ? std::max(highest, entry.sample.value) : entry.sample.value;
      any = true;
    }
    consistency.spread = highest - lowest;
  }
  // Each channel against the others pooled, once the report's vectors no
  // longer move.
  for (MetricConsistency& consistency : report.metrics) {
    for (size_t i = 0; i < consistency.channels.size(); ++i) {
      ChannelMetric& entry = consistency.channels[i];
      std::vector<const GroupRollup*> others;
      for (size_t j = 0; j < channels.size(); ++j) {
        if (j != i) others.push_back(&channels[j]);
      }
      MetricSample rest = SampleOf(Sum(others), consistency.metric);
      if (entry.sample.n < options.min_sample || rest.n < options.min_sample) continue;
      stats::TestResult result = Test(consistency.metric, rest, entry.sample);
      if (!result.valid) continue;
      entry.tested = true;
      entry.effect = entry.sample.value - rest.value;
      entry.p_value = result.p_value;
      p_values.push_back(result.p_value);
      tested.push_back(&entry);
    }
  }
  std::vector<double> adjusted = stats::HolmAdjust(p_values);
  for (size_t i = 0; i < tested.size(); ++i) {
    tested[i]->adjusted_p_value = adjusted[i];
    tested[i]->significant = adjusted[i] < options.alpha;
  }
  for (MetricConsistency& consistency : report.metrics) {
    for (const ChannelMetric& entry : consistency.channels) {
      consistency.inconsistent = consistency.inconsistent || entry.significant;
    }
  }
  return report;
}

v1::Metric ToProtoMetric(Metric metric) {
  switch (metric) {
    case Metric::kCsatTop2Box:
      return v1::CSAT_TOP2_BOX;
    case Metric::kNpsPromoterShare:
      return v1::NPS_PROMOTER_SHARE;
    case Metric::kNpsDetractorShare:
      return v1::NPS_DETRACTOR_SHARE;
    case Metric::kCesMean:
      return v1::CES_MEAN;
    case Metric::kMeasureMean:
      return v1::MEASURE_MEAN;
  }
  return v1::METRIC_UNSPECIFIED;
}

}  // namespace polku::insight
