#include "lib/stats/scores.h"

#include <algorithm>
#include <cmath>

namespace polku::stats {
namespace {

double Clamp(double value, double low, double high) {
  return std::min(high, std::max(low, value));
}

}  // namespace

Interval Wilson(int64_t successes, int64_t n, double z) {
  if (n <= 0) return Interval{};
  const double count = static_cast<double>(n);
  const double p = Clamp(static_cast<double>(successes) / count, 0.0, 1.0);
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / count;
  const double center = (p + z2 / (2.0 * count)) / denominator;
  const double half_width =
      z / denominator *
      std::sqrt(p * (1.0 - p) / count + z2 / (4.0 * count * count));
  // At p = 0 or 1 the bounds are 0 or 1 exactly in real arithmetic; the
  // clamp removes the rounding that would push them just outside.
  return Interval{Clamp(center - half_width, 0.0, 1.0),
                  Clamp(center + half_width, 0.0, 1.0)};
}

NpsSummary SummarizeNps(const NpsHistogram& histogram) {
  NpsSummary summary;
  for (int score = 0; score <= 10; ++score) {
    const int64_t count = histogram[score];
    summary.responses += count;
    if (score >= 9) {
      summary.promoters += count;
    } else if (score >= 7) {
      summary.passives += count;
    } else {
      summary.detractors += count;
    }
  }
  if (summary.responses <= 0) return NpsSummary{};
  const double n = static_cast<double>(summary.responses);
  const double p = static_cast<double>(summary.promoters) / n;
  const double d = static_cast<double>(summary.detractors) / n;
  summary.score = 100.0 * (p - d);
  // Variance of the per-answer value (+1 / 0 / −1); never negative in real
  // arithmetic, so rounding below zero is clipped rather than turned into NaN.
  const double variance = std::max(0.0, p + d - (p - d) * (p - d));
  const double half_width = kZ95 * 100.0 * std::sqrt(variance / n);
  summary.ci95 = Interval{Clamp(summary.score - half_width, -100.0, 100.0),
                          Clamp(summary.score + half_width, -100.0, 100.0)};
  return summary;
}

CsatSummary SummarizeCsat(const CsatHistogram& histogram) {
  CsatSummary summary;
  int64_t satisfied = 0;
  double total = 0;
  for (int k = 0; k < 5; ++k) {
    summary.responses += histogram[k];
    total += static_cast<double>(k + 1) * static_cast<double>(histogram[k]);
    if (k + 1 >= 4) satisfied += histogram[k];
  }
  if (summary.responses <= 0) return CsatSummary{};
  const double n = static_cast<double>(summary.responses);
  summary.top2_box = static_cast<double>(satisfied) / n;
  summary.ci95 = Wilson(satisfied, summary.responses);
  summary.mean = total / n;
  return summary;
}

CesSummary SummarizeCes(const CesHistogram& histogram) {
  CesSummary summary;
  int64_t high_effort_scale = 0;  // answers 5–7
  double total = 0;
  for (int k = 0; k < 7; ++k) {
    summary.responses += histogram[k];
    total += static_cast<double>(k + 1) * static_cast<double>(histogram[k]);
    if (k + 1 >= 5) high_effort_scale += histogram[k];
  }
  if (summary.responses <= 0) return CesSummary{};
  const double n = static_cast<double>(summary.responses);
  summary.mean = total / n;
  summary.share_5_to_7 = static_cast<double>(high_effort_scale) / n;
  return summary;
}

}  // namespace polku::stats
