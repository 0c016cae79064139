#include "lib/stats/significance.h"

#include <math.h>  // lgamma_r

#include <algorithm>
#include <cmath>
#include <numeric>

namespace polku::stats {
namespace {

// Continued fraction for the incomplete beta function, evaluated with the
// modified Lentz method; converges quickly for x < (a + 1)/(a + b + 2).
double BetaContinuedFraction(double x, double a, double b) {
  constexpr int kMaxIterations = 300;
  constexpr double kEpsilon = 1e-15;
  constexpr double kTiny = 1e-300;
  auto guard = [](double v) { return std::fabs(v) < kTiny ? kTiny : v; };

  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double result = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double two_m = 2.0 * m;
    // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
    const double even = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
    d = 1.0 / guard(1.0 + even * d);
    c = guard(1.0 + even / c);
    result *= d * c;
    // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
    const double odd = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0));
    d = 1.0 / guard(1.0 + odd * d);
    c = guard(1.0 + odd / c);
    const double delta = d * c;
    result *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return result;
}

TestResult Invalid(double effect) {
  TestResult result;
  result.effect = effect;
  return result;
}

}  // namespace

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double RegularizedIncompleteBeta(double x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  // x^a (1 − x)^b / (a B(a, b)), through logarithms to avoid overflow.
  const double log_front = LogGamma(a + b) - LogGamma(a) - LogGamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  // Use the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction
  // converges faster.
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return std::exp(log_front) * BetaContinuedFraction(x, a, b) / a;
  }
  return 1.0 - std::exp(log_front) * BetaContinuedFraction(1.0 - x, b, a) / b;
}

double LogGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

double StudentTCdf(double t, double degrees_of_freedom) {
  const double nu = degrees_of_freedom;
  // P(|T| > |t|) = I_{ν/(ν + t²)}(ν/2, 1/2).
  const double tail = RegularizedIncompleteBeta(nu / (nu + t * t), nu / 2.0, 0.5);
  return t >= 0 ? 1.0 - tail / 2.0 : tail / 2.0;
}

TestResult TwoProportionZTest(const Proportion& baseline, const Proportion& current) {
  if (baseline.n <= 0 || current.n <= 0) return Invalid(0);
  const double n0 = static_cast<double>(baseline.n);
  const double n1 = static_cast<double>(current.n);
  const double p0 = static_cast<double>(baseline.successes) / n0;
  const double p1 = static_cast<double>(current.successes) / n1;
  const double pooled =
      static_cast<double>(baseline.successes + current.successes) / (n0 + n1);
  const double variance = pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1);
  // Everyone (or no one) in both windows: no variation to test against.
  if (variance <= 0) return Invalid(p1 - p0);
  TestResult result;
  result.valid = true;
  result.effect = p1 - p0;
  result.statistic = result.effect / std::sqrt(variance);
  result.p_value = std::min(1.0, 2.0 * NormalCdf(-std::fabs(result.statistic)));
  return result;
}

TestResult WelchTTest(const Moments& baseline, const Moments& current) {
  const double effect = current.mean - baseline.mean;
  if (baseline.n < 2 || current.n < 2) return Invalid(effect);
  const double v0 = std::max(0.0, baseline.variance) / static_cast<double>(baseline.n);
  const double v1 = std::max(0.0, current.variance) / static_cast<double>(current.n);
  const double standard_error_squared = v0 + v1;
  if (standard_error_squared <= 0) return Invalid(effect);
  TestResult result;
  result.valid = true;
  result.effect = effect;
  result.statistic = effect / std::sqrt(standard_error_squared);
  result.degrees_of_freedom =
      standard_error_squared * standard_error_squared /
      (v0 * v0 / static_cast<double>(baseline.n - 1) +
       v1 * v1 / static_cast<double>(current.n - 1));
  result.p_value = std::min(
      1.0, 2.0 * StudentTCdf(-std::fabs(result.statistic), result.degrees_of_freedom));
  return result;
}

Moments MomentsOfHistogram(const int64_t* counts, int buckets, int first_score) {
  Moments moments;
  double sum = 0;
  for (int k = 0; k < buckets; ++k) {
    moments.n += counts[k];
    sum += static_cast<double>(counts[k]) * (first_score + k);
  }
  if (moments.n == 0) return moments;
  moments.mean = sum / static_cast<double>(moments.n);
  if (moments.n < 2) return moments;
  double squares = 0;
  for (int k = 0; k < buckets; ++k) {
    const double deviation = first_score + k - moments.mean;
    squares += static_cast<double>(counts[k]) * deviation * deviation;
  }
  moments.variance = squares / static_cast<double>(moments.n - 1);
  return moments;
}

std::vector<double> HolmAdjust(const std::vector<double>& p_values) {
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running_max = 0;
  for (size_t rank = 0; rank < m; ++rank) {
    const double scaled = std::min(1.0, static_cast<double>(m - rank) * p_values[order[rank]]);
    // Adjusted values never decrease along the sorted order.
    running_max = std::max(running_max, scaled);
    adjusted[order[rank]] = running_max;
  }
  return adjusted;
}

}  // namespace polku::stats
