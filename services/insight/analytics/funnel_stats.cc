#include "services/insight/analytics/funnel_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lib/stats/significance.h"

namespace polku::insight {
namespace {

constexpr double kZ = stats::kZ95;

double Clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }

// Regularized lower incomplete gamma P(a, x) by its series (x < a + 1) and
// upper Q(a, x) by Lentz's continued fraction otherwise.
double GammaSeriesP(double a, double x) {
  double term = 1.0 / a;
  double sum = term;
  for (int n = 1; n < 10000; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::abs(term) < std::abs(sum) * 1e-16) break;
  }
  return sum * std::exp(-x + a * std::log(x) - stats::LogGamma(a));
}

double GammaFractionQ(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a;
  double c = 1 / kTiny;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::exp(-x + a * std::log(x) - stats::LogGamma(a)) * h;
}

}  // namespace

stats::Interval WilsonExact(int64_t successes, int64_t n) {
  stats::Interval interval = stats::Wilson(successes, n);
  if (successes == 0) interval.low = 0;
  if (successes == n) interval.high = 1;
  return interval;
}

WindowConversion ConvertWithin(const std::vector<FollowUp>& follow_ups,
                               double window) {
  WindowConversion out;
  out.of = static_cast<int64_t>(follow_ups.size());
  bool censored_early = false;
  for (const FollowUp& f : follow_ups) {
    if (f.converted) {
      ++out.converted;
    } else if (f.time < window) {
      censored_early = true;
    }
  }
  if (out.of == 0) {
    out.ci95 = {0, 1};
    return out;
  }
  const double n = static_cast<double>(out.of);
  if (!censored_early) {
    const double p = out.converted / n;
    out.rate = p;
    out.standard_error = std::sqrt(p * (1 - p) / n);
    out.ci95 = WilsonExact(out.converted, out.of);
    return out;
  }
  out.estimated = true;
  // Conversion times, and censoring times apart (those at the window, the
  // dropped, need no sorting): the customers at risk at time u are those
  // with either time ≥ u (conversions before censorings at equal times).
  std::vector<double> converted, censored;
  converted.reserve(static_cast<size_t>(out.converted));
  int64_t censored_late = 0;
  for (const FollowUp& f : follow_ups) {
    if (f.converted) {
      converted.push_back(f.time);
    } else if (f.time < window) {
      censored.push_back(f.time);
    } else {
      ++censored_late;
    }
  }
  std::sort(converted.begin(), converted.end());
  std::sort(censored.begin(), censored.end());
  double survival = 1;
  double greenwood = 0;
  size_t i = 0;
  auto censored_from = censored.begin();
  while (i < converted.size()) {
    const double time = converted[i];
    const size_t first = i;
    while (i < converted.size() && converted[i] == time) ++i;
    if (time > window) break;
    const int64_t events = static_cast<int64_t>(i - first);
    censored_from = std::lower_bound(censored_from, censored.end(), time);
    const int64_t at_risk =
        static_cast<int64_t>(converted.size() - first) +
        static_cast<int64_t>(censored.end() - censored_from) +
        (time <= window ? censored_late : 0);
    survival *= 1 - static_cast<double>(events) / at_risk;
    if (events < at_risk) {
      greenwood += static_cast<double>(events) /
                   (static_cast<double>(at_risk) * (at_risk - events));
    }
  }
  out.rate = 1 - survival;
  out.standard_error = survival * std::sqrt(greenwood);
  if (survival <= 0 || survival >= 1) {
    out.ci95 = WilsonExact(out.converted, out.of);
    return out;
  }
  // log-log: θ = log(−log S), Var θ = Σ / (log S)².
  const double log_s = std::log(survival);
  const double spread = kZ * std::sqrt(greenwood) / std::abs(log_s);
  const double s_low = std::pow(survival, std::exp(spread));
  const double s_high = std::pow(survival, std::exp(-spread));
  out.ci95 = {Clamp01(1 - s_high), Clamp01(1 - s_low)};
  return out;
}

ProductConversion ChainConversions(const std::vector<WindowConversion>& steps) {
  ProductConversion out;
  out.rate = 1;
  double log_variance = 0;
  double min_high = 1;
  bool zero = false;
  for (const WindowConversion& step : steps) {
    out.rate *= step.rate;
    min_high = std::min(min_high, step.ci95.high);
    if (step.rate <= 0) {
      zero = true;
    } else {
      const double relative = step.standard_error / step.rate;
      log_variance += relative * relative;
    }
  }
  if (zero) {
    out.rate = 0;
    out.ci95 = {0, min_high};
    return out;
  }
  out.standard_error = out.rate * std::sqrt(log_variance);
  const double spread = kZ * std::sqrt(log_variance);
  out.ci95 = {Clamp01(out.rate * std::exp(-spread)),
              Clamp01(out.rate * std::exp(spread))};
  return out;
}

double BinomialCdf(int64_t k, int64_t n, double p) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  return stats::RegularizedIncompleteBeta(1 - p, static_cast<double>(n - k),
                                          static_cast<double>(k + 1));
}

QuantileEstimate Quantile(const std::vector<double>& sorted, int numerator,
                          int denominator) {
  QuantileEstimate out;
  const int64_t n = static_cast<int64_t>(sorted.size());
  if (n == 0) return out;
  // ⌈n·q⌉ in integers, so that n·q exact never rounds up by a hair.
  const int64_t rank = std::max<int64_t>(
      1, (n * numerator + denominator - 1) / denominator);
  out.value = sorted[rank - 1];
  const double q = static_cast<double>(numerator) / denominator;
  // Smallest k in [0, n] with P(B ≤ k) ≥ level.
  auto smallest = [&](double level) {
    int64_t low = 0, high = n;
    while (low < high) {
      const int64_t mid = low + (high - low) / 2;
      if (BinomialCdf(mid, n, q) >= level) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    return low;
  };
  int64_t l = smallest(0.025);
  int64_t u = smallest(0.975) + 1;
  if (l < 1) {
    l = 1;
    out.exact = false;
  }
  if (u > n) {
    u = n;
    out.exact = false;
  }
  out.ci95 = {sorted[l - 1], sorted[u - 1]};
  return out;
}

double ChiSquareSurvival(double x, double degrees_of_freedom) {
  if (x <= 0) return 1;
  const double a = degrees_of_freedom / 2;
  const double half = x / 2;
  if (half < a + 1) return Clamp01(1 - GammaSeriesP(a, half));
  return Clamp01(GammaFractionQ(a, half));
}

ChiSquareResult ChiSquareHomogeneity(
    const std::vector<std::vector<int64_t>>& table) {
  ChiSquareResult out;
  size_t columns = 0;
  for (const auto& row : table) columns = std::max(columns, row.size());
  std::vector<int64_t> column_totals(columns, 0);
  std::vector<int64_t> row_totals;
  for (const auto& row : table) {
    int64_t total = 0;
    for (size_t c = 0; c < row.size(); ++c) {
      column_totals[c] += row[c];
      total += row[c];
    }
    row_totals.push_back(total);
    out.total += total;
  }
  int rows_used = 0, columns_used = 0;
  for (int64_t t : row_totals) rows_used += t > 0;
  for (int64_t t : column_totals) columns_used += t > 0;
  if (rows_used < 2 || columns_used < 2) return out;
  out.degrees_of_freedom = (rows_used - 1) * (columns_used - 1);
  const double total = static_cast<double>(out.total);
  for (size_t r = 0; r < table.size(); ++r) {
    if (row_totals[r] == 0) continue;
    for (size_t c = 0; c < columns; ++c) {
      if (column_totals[c] == 0) continue;
      const double expected =
          static_cast<double>(row_totals[r]) * column_totals[c] / total;
      const double seen = c < table[r].size() ? table[r][c] : 0;
      out.chi_square += (seen - expected) * (seen - expected) / expected;
    }
  }
  out.p_value = ChiSquareSurvival(out.chi_square, out.degrees_of_freedom);
  return out;
}

}  // namespace polku::insight
