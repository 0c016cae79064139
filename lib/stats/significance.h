// Significance tests for change alerts and cross-channel consistency
// (docs/monitoring.md): is the current window different from its baseline, or one
// channel from the others, beyond what sampling noise explains?
//
//   // CSAT top-2-box: 160 of 200 satisfied last month, 120 of 200 this month.
//   TestResult r = TwoProportionZTest({160, 200}, {120, 200});
//   if (r.valid && r.p_value < 0.01) { /* alert, with r.effect */ }
//
//   // Mean wait seconds from count, mean and variance of each window.
//   TestResult w = WelchTTest({50, 120.0, 900.0}, {45, 150.0, 1600.0});
//
// Every function is pure and exact up to floating point; none needs raw data.
#ifndef POLKU_LIB_STATS_SIGNIFICANCE_H_
#define POLKU_LIB_STATS_SIGNIFICANCE_H_

#include <cstdint>
#include <vector>

namespace polku::stats {

// Successes out of n trials (e.g. CSAT answers 4–5 out of all CSAT answers).
struct Proportion {
  int64_t successes = 0;
  int64_t n = 0;
};

// Count, mean and unbiased (n − 1) sample variance of a measure.
struct Moments {
  int64_t n = 0;
  double mean = 0;
  double variance = 0;
};

struct TestResult {
  // False when the test cannot be computed: too few observations, or no
  // variation at all in either sample. p_value is then 1.
  bool valid = false;
  // The test statistic: z for proportions, t for means.
  double statistic = 0;
  // Two-sided p-value.
  double p_value = 1;
  // current − baseline, in the metric's own units (share or mean).
  double effect = 0;
  // Welch–Satterthwaite degrees of freedom (t-test only).
  double degrees_of_freedom = 0;
};

// Two-sided two-proportion z-test with the pooled standard error:
// z = (p₁ − p₀) / √(p̂(1 − p̂)(1/n₀ + 1/n₁)), p̂ = (x₀ + x₁)/(n₀ + n₁).
TestResult TwoProportionZTest(const Proportion& baseline, const Proportion& current);

// Two-sided Welch's t-test (unequal variances):
// t = (m₁ − m₀) / √(s₀²/n₀ + s₁²/n₁), with Welch–Satterthwaite degrees of freedom.
TestResult WelchTTest(const Moments& baseline, const Moments& current);

// Moments of a histogram whose bucket k holds answers with score first_score + k.
Moments MomentsOfHistogram(const int64_t* counts, int buckets, int first_score);

// Standard normal distribution function Φ(x).
double NormalCdf(double x);

// ln |Γ(x)|. Thread-safe, unlike std::lgamma, which in glibc also writes the
// sign of Γ(x) to the global `signgam`: two threads computing at once race
// on it (ThreadSanitizer found it in polku-insight's funnels).
double LogGamma(double x);

// Student's t distribution function with `degrees_of_freedom` > 0.
double StudentTCdf(double t, double degrees_of_freedom);

// Regularised incomplete beta function I_x(a, b) for a, b > 0, 0 ≤ x ≤ 1.
double RegularizedIncompleteBeta(double x, double a, double b);

// Holm's step-down adjustment for m simultaneous tests: adjusted p-values in
// the input order, each ≥ its raw value and ≤ 1. Rejecting where the adjusted
// value is below α keeps the family-wise error rate at α.
std::vector<double> HolmAdjust(const std::vector<double>& p_values);

}  // namespace polku::stats

#endif  // POLKU_LIB_STATS_SIGNIFICANCE_H_
