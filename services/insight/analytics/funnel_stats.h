// The statistics a funnel reports (docs/funnels.md), as pure functions over
// plain numbers: conversion within a window with customers still in
// progress (Kaplan–Meier, Greenwood), distribution-free intervals of
// quantiles (order statistics), and the chi-square test of homogeneity.
//
//   // 3 went on after 1, 2 and 5 days; one dropped; one is 4 days in.
//   WindowConversion c = ConvertWithin(
//       {{1, true}, {2, true}, {5, true}, {30, false}, {4, false}}, 30);
//   // c.rate = 1 − S(30), c.estimated (someone is in progress)
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_STATS_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_STATS_H_

#include <cstdint>
#include <vector>

#include "lib/stats/scores.h"

namespace polku::insight {

// Wilson's 95 % interval (lib/stats) with its ends exact: 0 for no
// successes, 1 for all (the formula leaves a rounding residue there).
stats::Interval WilsonExact(int64_t successes, int64_t n);

// One customer's follow-up for one transition: the time it took to go on
// (converted), or how long they were seen without going on (the window for
// those who dropped, less for those in progress).
struct FollowUp {
  double time = 0;
  bool converted = false;
};

struct WindowConversion {
  int64_t converted = 0;
  int64_t of = 0;
  double rate = 0;
  double standard_error = 0;
  stats::Interval ci95;
  // Kaplan–Meier (someone was followed for less than the window).
  bool estimated = false;
};

// The share converting within `window`. When every non-converted customer
// was followed for the whole window this is converted / of with a Wilson
// interval; otherwise 1 − S(window) by Kaplan–Meier (conversions before
// censorings at equal times), Greenwood's variance and the log-log
// interval of S. A degenerate S (0 or 1) falls back to Wilson's interval.
// `of` = 0 gives rate 0, interval [0, 1].
WindowConversion ConvertWithin(const std::vector<FollowUp>& follow_ups,
                               double window);

// A product of independent step conversions (from the first stage): the
// product, its delta-method standard error and the interval
// P·exp(±1.96·√Σ(seᵢ/pᵢ)²), clamped to [0, 1]; a zero step gives
// [0, min of the steps' upper ends].
struct ProductConversion {
  double rate = 0;
  double standard_error = 0;
  stats::Interval ci95;
};
ProductConversion ChainConversions(const std::vector<WindowConversion>& steps);

// Quantile q = numerator/denominator of `sorted` (ascending, non-empty):
// the value at rank ⌈n·q⌉ (inverse of the empirical distribution), with
// the order-statistic interval [x₍ₗ₎, x₍ᵤ₎], l = the smallest k with
// P(B ≤ k) ≥ 0.025 and u − 1 = the smallest k with P(B ≤ k) ≥ 0.975 for
// B ~ Binomial(n, q), which covers the true quantile with probability at
// least 95 %. Ranks outside 1..n are clamped and `exact` is false.
struct QuantileEstimate {
  double value = 0;
  stats::Interval ci95;
  bool exact = true;
};
QuantileEstimate Quantile(const std::vector<double>& sorted, int numerator,
                          int denominator);

// P(B ≤ k) for B ~ Binomial(n, p).
double BinomialCdf(int64_t k, int64_t n, double p);

// Pearson's chi-square test of homogeneity on a table of counts (rows =
// groups, columns = outcomes), empty rows and columns left out; df 0 gives
// p 1.
struct ChiSquareResult {
  double chi_square = 0;
  int32_t degrees_of_freedom = 0;
  double p_value = 1;
  int64_t total = 0;
};
ChiSquareResult ChiSquareHomogeneity(
    const std::vector<std::vector<int64_t>>& table);

// P(X > x) for X ~ χ²(df).
double ChiSquareSurvival(double x, double degrees_of_freedom);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_STATS_H_
