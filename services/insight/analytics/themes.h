// GetThemes' and ListThemeExamples' logic over the theme index
// (theme_index.h). The method and how to read it: docs/themes.md, "Themes".
//
//   absl::StatusOr<v1::Themes> themes =
//       ComputeThemes(index, "acme", request, successors);
//
// * Each comment counts each of its terms once (document frequency). Group
//   i is the low-score comments (IsLowScore), group j every other comment
//   in scope, those without a score included.
// * Per term w with counts y_w^i, y_w^j, totals n_i = Σ_w y_w^i,
//   n_j = Σ_w y_w^j, prior α_w = α₀ (y_w^i + y_w^j) / (n_i + n_j):
//   WeightedLogOdds.
// * Only terms in at least min_count comments are ranked, by z (then by
//   term, bytewise, so that ties are deterministic).
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_THEMES_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_THEMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/themes.pb.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/analytics/theme_index.h"

namespace polku::insight {

// α₀, the prior's total weight (docs/themes.md says why this value).
inline constexpr double kThemePriorWeight = 1000;

struct LogOdds {
  double delta = 0;     // δ_w
  double variance = 0;  // σ²_w
  double z = 0;         // δ_w / σ_w
};

// Monroe, Colaresi and Quinn (2008), eq. 22 with the informative Dirichlet
// prior, applied per term to comments that mention it (y) among the group's
// comments (n) — two categories, so the prior is a Beta with
// α_w = α₀ (y_i + y_j) / (n_i + n_j):
//   δ = log((y_i + α_w) / (n_i + α₀ − y_i − α_w))
//     − log((y_j + α_w) / (n_j + α₀ − y_j − α_w)),
//   σ² ≈ 1 / (y_i + α_w) + 1 / (n_i + α₀ − y_i − α_w)
//      + 1 / (y_j + α_w) + 1 / (n_j + α₀ − y_j − α_w),  z = δ / σ.
// Neither category is negligible here (a theme may be in half the
// comments), so σ² keeps both. All zero when n_i + n_j is 0 or a term is in
// every comment or in none.
LogOdds WeightedLogOdds(int64_t y_i, int64_t y_j, int64_t n_i, int64_t n_j,
                        double alpha0 = kThemePriorWeight);

// The ISO 8601 week ("2026-W07") of a day since the epoch (its Monday:
// WeekStart, theme_index.h).
std::string IsoWeek(int64_t day);

// INVALID_ARGUMENT naming the field for bad input (scope as in
// ToScorecardQuery; attribute filters are not supported).
absl::StatusOr<v1::Themes> ComputeThemes(
    ThemeIndex& index, absl::string_view tenant,
    const v1::GetThemesRequest& request,
    const TouchpointSuccessors& successors = {});

// ComputeThemes of each request, all of one journey, from one read of the
// index: the same answers as one ComputeThemes call per request, for a
// fraction of the work when the requests are the journey's touchpoints one
// by one (the emerging-theme alerts). INVALID_ARGUMENT as ComputeThemes, or
// when the requests name different journeys.
absl::StatusOr<std::vector<v1::Themes>> ComputeThemesEach(
    ThemeIndex& index, absl::string_view tenant,
    const std::vector<v1::GetThemesRequest>& requests,
    const TouchpointSuccessors& successors = {});

absl::StatusOr<v1::ListThemeExamplesResponse> ListThemeExamples(
    ThemeIndex& index, absl::string_view tenant,
    const v1::ListThemeExamplesRequest& request,
    const TouchpointSuccessors& successors = {});

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_THEMES_H_
