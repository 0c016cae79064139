// Relative importance of groups of predictors in a linear regression, from
// sufficient statistics alone (centred cross-products): the R² of every
// subset of groups, LMG (the Shapley value of R² over groups; exact over all
// 2^k subsets up to kMaxExactGroups, sampled permutations beyond), Johnson's
// relative weights, and each column's coefficient where the design
// identifies it. Rank-deficient designs are answered on the span of the
// columns (a column that adds nothing adds no R²); nothing here returns NaN.
//
//   CrossProducts cp = …;               // Σ (x − x̄)(x − x̄)', Σ (x − x̄)(y − ȳ), …
//   Importance imp = ComputeImportance(cp, {.groups = {0, 0, 1, 1}});
//   // imp.lmg[g] sums to imp.r_squared.
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_RELATIVE_IMPORTANCE_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_RELATIVE_IMPORTANCE_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace polku::insight {

inline constexpr int kMaxExactGroups = 15;

// Centred cross-products of p predictor columns and the outcome.
struct CrossProducts {
  int columns = 0;
  // p×p, row-major: Σ (x_i − x̄_i)(x_j − x̄_j).
  std::vector<double> xx;
  // p: Σ (x_i − x̄_i)(y − ȳ).
  std::vector<double> xy;
  // Σ (y − ȳ)².
  double yy = 0;
  // p: Σ x_i², uncentred; a column whose centred sum is below 1e-12 of it
  // (or exactly 0) does not vary and is left out.
  std::vector<double> raw_squares;
};

struct ImportanceOptions {
  // The group of each column, 0 … groups−1 (every group has a column).
  std::vector<int> group_of_column;
  int groups = 0;
  // Beyond kMaxExactGroups: permutations sampled for LMG, and their seed.
  int permutations = 1000;
  uint64_t seed = 1;
  // Columns whose coefficient is wanted (the rest are skipped, saving work).
  std::vector<int> coefficient_columns;
};

struct Importance {
  double r_squared = 0;
  // Per group; Σ lmg = r_squared (exactly up to rounding when exact).
  std::vector<double> lmg;
  // 0 when exact; else 1.96 × the largest standard error of a group's
  // sampled mean contribution (a 95 % bound on each group's error).
  double lmg_error_bound = 0;
  // Johnson's relative weights per group; Σ = r_squared.
  std::vector<double> relative_weight;
  // Per column of options.coefficient_columns (same order): the coefficient
  // in the full model, or nullopt when the column is a linear combination
  // of the others (or does not vary).
  std::vector<std::optional<double>> coefficients;
  // Columns that do not vary, and columns that are linear combinations of
  // the columns before them (in column order): the design's rank deficiency.
  std::vector<int> constant_columns;
  std::vector<int> dependent_columns;
  // The number of independent columns (the model's rank without intercept).
  int rank = 0;
};

// Everything above, for one set of cross-products.
Importance ComputeImportance(const CrossProducts& cp,
                             const ImportanceOptions& options);

// R² of the regression on each subset of groups, indexed by bitmask (bit g =
// group g); groups ≤ kMaxExactGroups. For tests and the exact LMG.
std::vector<double> SubsetRSquared(const CrossProducts& cp,
                                   const ImportanceOptions& options);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_RELATIVE_IMPORTANCE_H_
