#include "services/insight/analytics/relative_importance.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace polku::insight {
namespace {

// A column whose squared multiple correlation with the columns already in
// the fit exceeds 1 − kDependent adds nothing: it is taken as a linear
// combination of them.
constexpr double kDependent = 1e-9;
// A column whose centred sum of squares is below this share of its raw sum
// of squares does not vary.
constexpr double kConstant = 1e-12;

// The standardised problem: correlations among the varying columns and with
// the outcome.
struct Standardised {
  // Indices (into the caller's columns) of the varying columns.
  std::vector<int> columns;
  // Standard deviations (root centred sums of squares) of those columns.
  std::vector<double> scale;
  // k×k correlations and k correlations with y.
  std::vector<double> corr;
  std::vector<double> corr_y;
  double y_scale = 0;  // √Σ(y − ȳ)²; 0 when y does not vary
  std::vector<int> constant;
};

Standardised Standardise(const CrossProducts& cp) {
  Standardised s;
  const int p = cp.columns;
  for (int j = 0; j < p; ++j) {
    const double centred = cp.xx[j * p + j];
    const double raw = j < static_cast<int>(cp.raw_squares.size())
                           ? cp.raw_squares[j]
                           : centred;
    if (!(centred > 0) || centred <= kConstant * raw) {
      s.constant.push_back(j);
      continue;
    }
    s.columns.push_back(j);
    s.scale.push_back(std::sqrt(centred));
  }
  const int k = static_cast<int>(s.columns.size());
  s.corr.assign(static_cast<size_t>(k) * k, 0);
  s.corr_y.assign(k, 0);
  s.y_scale = cp.yy > 0 ? std::sqrt(cp.yy) : 0;
  for (int a = 0; a < k; ++a) {
    for (int b = 0; b < k; ++b) {
      s.corr[a * k + b] =
          a == b ? 1.0
                 : cp.xx[s.columns[a] * p + s.columns[b]] /
                       (s.scale[a] * s.scale[b]);
    }
    if (s.y_scale > 0) {
      s.corr_y[a] = cp.xy[s.columns[a]] / (s.scale[a] * s.y_scale);
    }
  }
  return s;
}

// A least-squares fit grown one column at a time: a Cholesky factor of the
// chosen columns' correlations, and the outcome's coordinates in that basis,
// so that R² is the sum of their squares. Truncating returns to an earlier
// size, which is how the subsets are walked depth-first.
class IncrementalFit {
 public:
  explicit IncrementalFit(const Standardised& s)
      : s_(s),
        k_(static_cast<int>(s.columns.size())),
        lower_(static_cast<size_t>(k_) * k_, 0),
        coordinate_(k_, 0),
        chosen_(k_, 0),
        r2_(k_ + 1, 0),
        solve_(k_, 0) {}

  int size() const { return size_; }
  double r_squared() const { return r2_[size_]; }
  // Returns to the first `size` columns added.
  void Truncate(int size) { size_ = size; }

  // Adds standardised column `a`; false (and nothing added) when it is a
  // linear combination of the columns in the fit.
  bool Add(int a) {
    const int n = size_;
    double explained = 0;
    for (int i = 0; i < n; ++i) {
      double v = s_.corr[chosen_[i] * k_ + a];
      const double* row = &lower_[static_cast<size_t>(i) * k_];
      for (int m = 0; m < i; ++m) v -= row[m] * solve_[m];
      solve_[i] = v / row[i];
      explained += solve_[i] * solve_[i];
    }
    const double residual = 1.0 - explained;
    if (!(residual > kDependent)) return false;
    const double pivot = std::sqrt(residual);
    double* row = &lower_[static_cast<size_t>(n) * k_];
    for (int m = 0; m < n; ++m) row[m] = solve_[m];
    row[n] = pivot;
    double c = s_.corr_y[a];
    for (int m = 0; m < n; ++m) c -= solve_[m] * coordinate_[m];
    coordinate_[n] = c / pivot;
    chosen_[n] = a;
    r2_[n + 1] = r2_[n] + coordinate_[n] * coordinate_[n];
    size_ = n + 1;
    return true;
  }

  // The standardised coefficient of the last column added, given every
  // column before it.
  double LastCoefficient() const {
    const int n = size_ - 1;
    return coordinate_[n] / lower_[static_cast<size_t>(n) * k_ + n];
  }

 private:
  const Standardised& s_;
  const int k_;
  std::vector<double> lower_;
  std::vector<double> coordinate_;
  std::vector<int> chosen_;
  std::vector<double> r2_;
  std::vector<double> solve_;
  int size_ = 0;
};

double Clamp01(double v) {
  if (!(v > 0)) return 0;
  return v > 1 ? 1 : v;
}

// Standardised columns of each group.
std::vector<std::vector<int>> ColumnsByGroup(const Standardised& s,
                                             const ImportanceOptions& options) {
  std::vector<std::vector<int>> by_group(options.groups);
  for (int a = 0; a < static_cast<int>(s.columns.size()); ++a) {
    by_group[options.group_of_column[s.columns[a]]].push_back(a);
  }
  return by_group;
}

void Walk(IncrementalFit& fit, const std::vector<std::vector<int>>& by_group,
          uint32_t mask, int next, std::vector<double>& r2) {
  const int base = fit.size();
  for (int g = next; g < static_cast<int>(by_group.size()); ++g) {
    for (int a : by_group[g]) fit.Add(a);
    const uint32_t child = mask | (1u << g);
    r2[child] = Clamp01(fit.r_squared());
    Walk(fit, by_group, child, g + 1, r2);
    fit.Truncate(base);
  }
}

std::vector<double> SubsetsOf(const Standardised& s,
                              const ImportanceOptions& options) {
  std::vector<double> r2(size_t{1} << options.groups, 0.0);
  if (s.y_scale == 0) return r2;
  IncrementalFit fit(s);
  Walk(fit, ColumnsByGroup(s, options), 0, 0, r2);
  return r2;
}

// Shapley weights s!(G−s−1)!/G! by subset size s.
std::vector<double> ShapleyWeights(int groups) {
  std::vector<double> w(groups, 0);
  for (int size = 0; size < groups; ++size) {
    // 1 / (G · C(G−1, s)), computed as a product to stay finite.
    double choose = 1;
    for (int i = 1; i <= size; ++i) {
      choose = choose * (groups - 1 - size + i) / i;
    }
    w[size] = 1.0 / (groups * choose);
  }
  return w;
}

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Cyclic Jacobi: eigenvalues and eigenvectors (columns of `vectors`) of a
// symmetric k×k matrix.
void SymmetricEigen(std::vector<double> a, int k, std::vector<double>& values,
                    std::vector<double>& vectors) {
  vectors.assign(static_cast<size_t>(k) * k, 0);
  for (int i = 0; i < k; ++i) vectors[i * k + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < k; ++i) {
      for (int j = i + 1; j < k; ++j) off += a[i * k + j] * a[i * k + j];
    }
    if (off < 1e-30) break;
    for (int p = 0; p < k; ++p) {
      for (int q = p + 1; q < k; ++q) {
        const double apq = a[p * k + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) /
                         (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1);
        const double sn = t * c;
        for (int r = 0; r < k; ++r) {
          const double arp = a[r * k + p];
          const double arq = a[r * k + q];
          a[r * k + p] = c * arp - sn * arq;
          a[r * k + q] = sn * arp + c * arq;
        }
        for (int r = 0; r < k; ++r) {
          const double apr = a[p * k + r];
          const double aqr = a[q * k + r];
          a[p * k + r] = c * apr - sn * aqr;
          a[q * k + r] = sn * apr + c * aqr;
        }
        for (int r = 0; r < k; ++r) {
          const double vrp = vectors[r * k + p];
          const double vrq = vectors[r * k + q];
          vectors[r * k + p] = c * vrp - sn * vrq;
          vectors[r * k + q] = sn * vrp + c * vrq;
        }
      }
    }
  }
  values.resize(k);
  for (int i = 0; i < k; ++i) values[i] = a[i * k + i];
}

// Johnson (2000): regress y on the orthogonal columns closest to X
// (Z = X R^−½), then share each Z column's R² back to the X columns by the
// squared loadings of R^½. A zero eigenvalue (rank deficiency) is left out,
// as a pseudo-inverse would.
std::vector<double> RelativeWeights(const Standardised& s,
                                    const ImportanceOptions& options) {
  std::vector<double> by_group(options.groups, 0);
  const int k = static_cast<int>(s.columns.size());
  if (k == 0 || s.y_scale == 0) return by_group;
  std::vector<double> values, vectors;
  SymmetricEigen(s.corr, k, values, vectors);
  const double largest = *std::max_element(values.begin(), values.end());
  std::vector<double> root(k), inverse_root(k);
  for (int i = 0; i < k; ++i) {
    const bool kept = values[i] > 1e-10 * std::max(largest, 1.0);
    root[i] = kept ? std::sqrt(values[i]) : 0;
    inverse_root[i] = kept ? 1 / root[i] : 0;
  }
  // half = V diag(√λ) V';  beta = V diag(1/√λ) V' r.
  std::vector<double> half(static_cast<size_t>(k) * k, 0);
  std::vector<double> projected(k, 0), beta(k, 0);
  for (int i = 0; i < k; ++i) {
    for (int m = 0; m < k; ++m) projected[m] += vectors[i * k + m] * s.corr_y[i];
  }
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      double h = 0;
      for (int m = 0; m < k; ++m) {
        h += vectors[i * k + m] * root[m] * vectors[j * k + m];
      }
      half[i * k + j] = h;
    }
    for (int m = 0; m < k; ++m) {
      beta[i] += vectors[i * k + m] * inverse_root[m] * projected[m];
    }
  }
  for (int j = 0; j < k; ++j) {
    double weight = 0;
    for (int m = 0; m < k; ++m) weight += half[j * k + m] * half[j * k + m] * beta[m] * beta[m];
    by_group[options.group_of_column[s.columns[j]]] += weight;
  }
  return by_group;
}

}  // namespace

std::vector<double> SubsetRSquared(const CrossProducts& cp,
                                   const ImportanceOptions& options) {
  return SubsetsOf(Standardise(cp), options);
}

Importance ComputeImportance(const CrossProducts& cp,
                             const ImportanceOptions& options) {
  Importance out;
  const Standardised s = Standardise(cp);
  const int groups = options.groups;
  const int k = static_cast<int>(s.columns.size());
  out.constant_columns = s.constant;
  out.lmg.assign(groups, 0);

  // The full model, columns in order: its R², rank and dependent columns.
  IncrementalFit fit(s);
  for (int a = 0; a < k; ++a) {
    if (!fit.Add(a)) out.dependent_columns.push_back(s.columns[a]);
  }
  out.rank = fit.size();
  out.r_squared = s.y_scale == 0 ? 0 : Clamp01(fit.r_squared());

  if (s.y_scale > 0 && groups > 0) {
    const std::vector<std::vector<int>> by_group = ColumnsByGroup(s, options);
    if (groups <= kMaxExactGroups) {
      const std::vector<double> r2 = SubsetsOf(s, options);
      const std::vector<double> weight = ShapleyWeights(groups);
      const uint32_t all = (1u << groups) - 1;
      out.r_squared = r2[all];  // the LMG shares sum to it
      for (uint32_t mask = 0; mask < all; ++mask) {
        const int size = __builtin_popcount(mask);
        for (int g = 0; g < groups; ++g) {
          if (mask & (1u << g)) continue;
          out.lmg[g] += weight[size] * (r2[mask | (1u << g)] - r2[mask]);
        }
      }
    } else {
      // Shapley by sampled orderings: each ordering's contributions sum to
      // the full R², so the estimates do too.
      uint64_t state = options.seed;
      std::vector<int> order(groups);
      std::vector<double> sum(groups, 0), sum_squares(groups, 0);
      const int m = std::max(options.permutations, 2);
      for (int t = 0; t < m; ++t) {
        std::iota(order.begin(), order.end(), 0);
        for (int i = groups - 1; i > 0; --i) {
          std::swap(order[i], order[SplitMix(state) % (i + 1)]);
        }
        fit.Truncate(0);
        double before = 0;
        for (int g : order) {
          for (int a : by_group[g]) fit.Add(a);
          const double after = Clamp01(fit.r_squared());
          sum[g] += after - before;
          sum_squares[g] += (after - before) * (after - before);
          before = after;
        }
      }
      double worst = 0;
      for (int g = 0; g < groups; ++g) {
        out.lmg[g] = sum[g] / m;
        const double variance =
            std::max(0.0, (sum_squares[g] - sum[g] * sum[g] / m) / (m - 1));
        worst = std::max(worst, std::sqrt(variance / m));
      }
      out.lmg_error_bound = 1.96 * worst;
    }
  }
  out.relative_weight = RelativeWeights(s, options);

  // A column's coefficient: fit every other varying column, then add it.
  for (int column : options.coefficient_columns) {
    const auto at = std::find(s.columns.begin(), s.columns.end(), column);
    if (at == s.columns.end() || s.y_scale == 0) {
      out.coefficients.push_back(std::nullopt);
      continue;
    }
    const int a = static_cast<int>(at - s.columns.begin());
    fit.Truncate(0);
    for (int b = 0; b < k; ++b) {
      if (b != a) fit.Add(b);
    }
    if (!fit.Add(a)) {
      out.coefficients.push_back(std::nullopt);
      continue;
    }
    out.coefficients.push_back(fit.LastCoefficient() * s.y_scale / s.scale[a]);
  }
  return out;
}

}  // namespace polku::insight
