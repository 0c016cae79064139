#include "services/insight/server/theme_alerts.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/analytics/themes.h"

namespace polku::insight {

std::string ThemeAlertSource::AlertId(const std::string& journey,
                                      const std::string& touchpoint,
                                      const std::string& theme_id,
                                      const std::string& week) {
  return absl::StrCat(journey, "/touchpoint/", touchpoint, "/theme/", theme_id,
                      "/", week);
}

absl::StatusOr<EmergingThemeSource::Emerging> ThemeAlertSource::EmergingThemes(
    const std::string& tenant, const std::string& journey, Day anchor,
    const std::vector<std::string>& touchpoints,
    const TouchpointSuccessors& successors) {
  Emerging out;
  out.week = IsoWeek(anchor);
  const Day week_start = WeekStart(anchor);
  const Day first = week_start - 7 * static_cast<Day>(options_.baseline_weeks);
  // Every touchpoint's themes from one read of the index.
  std::vector<v1::GetThemesRequest> requests;
  requests.reserve(touchpoints.size());
  for (const std::string& touchpoint : touchpoints) {
    v1::GetThemesRequest& request = requests.emplace_back();
    request.mutable_scope()->set_journey(journey);
    request.mutable_scope()->set_touchpoint(touchpoint);
    SetMidnight(first, *request.mutable_scope()->mutable_range()->mutable_start());
    SetMidnight(week_start + 7,
                *request.mutable_scope()->mutable_range()->mutable_end());
    request.set_max_themes(options_.max_themes);
    request.set_min_count(options_.min_count);
    request.set_emerging_alpha(options_.emerging_alpha);
  }
  POLKU_ASSIGN_OR_RETURN(
      const std::vector<v1::Themes> each,
      ComputeThemesEach(index_, tenant, requests, successors));
  for (size_t i = 0; i < touchpoints.size(); ++i) {
    const std::string& touchpoint = touchpoints[i];
    const v1::Themes& themes = each[i];
    for (const v1::Theme& theme : themes.themes()) {
      // The latest week in scope may be an earlier one when the touchpoint
      // has no comment this week: then nothing emerges this week.
      if (!theme.emerging() || theme.trend().empty() ||
          theme.trend().rbegin()->week() != out.week) {
        continue;
      }
      int64_t baseline_n = 0, baseline_count = 0;
      for (int w = 0; w + 1 < theme.trend_size(); ++w) {
        baseline_n += theme.trend(w).comments();
        baseline_count += theme.trend(w).count();
      }
      const v1::ThemeWeek& current = *theme.trend().rbegin();
      v1::Alert& alert = out.alerts.emplace_back();
      alert.set_id(AlertId(journey, touchpoint, theme.id(), out.week));
      alert.set_journey(journey);
      alert.set_kind(v1::EMERGING_THEME);
      alert.set_scope(v1::GROUP_BY_TOUCHPOINT);
      alert.set_key(touchpoint);
      // The trend's first week is the first with a comment in scope.
      const Day baseline_start =
          week_start - 7 * static_cast<Day>(theme.trend_size() - 1);
      SetMidnight(baseline_start,
                  *alert.mutable_baseline_window()->mutable_start());
      SetMidnight(week_start, *alert.mutable_baseline_window()->mutable_end());
      SetMidnight(week_start, *alert.mutable_current_window()->mutable_start());
      SetMidnight(week_start + 7,
                  *alert.mutable_current_window()->mutable_end());
      const double before =
          baseline_n == 0 ? 0
                          : static_cast<double>(baseline_count) /
                                static_cast<double>(baseline_n);
      alert.set_before(before);
      alert.set_after(current.share());
      alert.set_effect(current.share() - before);
      alert.set_baseline_n(baseline_n);
      alert.set_current_n(current.comments());
      alert.set_p_value(theme.emerging_p_value());
      alert.set_adjusted_p_value(theme.emerging_p_adjusted());
      // A theme of low-score comments rising is news for the worse.
      alert.set_worse(theme.z() > 0);
      v1::ThemeAlert& out_theme = *alert.mutable_theme();
      out_theme.set_theme_id(theme.id());
      out_theme.set_term(theme.term());
      for (absl::string_view lemma : absl::StrSplit(theme.term(), ' ')) {
        out_theme.add_terms(std::string(lemma));
      }
      out_theme.set_week(out.week);
      out_theme.set_baseline_count(baseline_count);
      out_theme.set_current_count(current.count());
      out_theme.set_z(theme.emerging_z());
      out_theme.set_log_odds_z(theme.z());
    }
  }
  return out;
}

}  // namespace polku::insight
