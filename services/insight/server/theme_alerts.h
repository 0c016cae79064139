// Emerging comment themes for the alert monitor (alert_monitor.h), over the
// theme index: per touchpoint, GetThemes' own computation (themes.h) over
// the anchor's ISO week and the `baseline_weeks` weeks before it, and each
// theme it marks `emerging` whose latest week is the anchor's, as an alert.
//
//   ThemeAlertSource themes(theme_index, {.baseline_weeks = 4});
//   monitor.SetThemeSource(&themes);
//
// So an alert says exactly what GetThemes answers for the scope
// {journey, touchpoint, range = those weeks}: the same top themes, the same
// two-proportion test, the same Holm adjustment and α.
#ifndef POLKU_SERVICES_INSIGHT_SERVER_THEME_ALERTS_H_
#define POLKU_SERVICES_INSIGHT_SERVER_THEME_ALERTS_H_

#include <string>
#include <vector>

#include "services/insight/analytics/theme_index.h"
#include "services/insight/server/alert_monitor.h"

namespace polku::insight {

struct ThemeAlertOptions {
  // Whole ISO weeks before the anchor's week that form the baseline.
  int baseline_weeks = 4;
  // GetThemesRequest's, 0 = its defaults (20 themes, min_count 5, α 0.01).
  int max_themes = 0;
  int min_count = 0;
  double emerging_alpha = 0;
};

class ThemeAlertSource : public EmergingThemeSource {
 public:
  // `index` must outlive the source.
  ThemeAlertSource(ThemeIndex& index, ThemeAlertOptions options)
      : index_(index), options_(options) {}

  absl::StatusOr<Emerging> EmergingThemes(
      const std::string& tenant, const std::string& journey, Day anchor,
      const std::vector<std::string>& touchpoints,
      const TouchpointSuccessors& successors) override;

  // "journey/touchpoint/KEY/theme/TH_ID/WEEK": one alert per (journey,
  // touchpoint, theme, week).
  static std::string AlertId(const std::string& journey,
                             const std::string& touchpoint,
                             const std::string& theme_id,
                             const std::string& week);

 private:
  ThemeIndex& index_;
  const ThemeAlertOptions options_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SERVER_THEME_ALERTS_H_
