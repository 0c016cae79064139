// The change-alert monitor: after the feed tailer applies a page, each
// journey the page touched is evaluated again — every touchpoint, stage and
// channel, current window against its baseline (monitoring.h CompareWindows:
// two-proportion z-tests for shares, Welch for means, a minimum sample, Holm
// over every comparison of the evaluation) — and alerts open, update or
// clear.
//
//   AlertMonitor monitor(store, {.window_days = 7});
//   monitor.SetListener([&](const std::string& tenant, const v1::Alert& a) { … });
//   monitor.Start();                         // evaluates every journey once
//   tailer options.on_applied = [&](const FeedChanges& c) { monitor.JourneysChanged(c.journeys); };
//   …
//   monitor.Stop();
//
// Timing. JourneysChanged only records the journeys and wakes the monitor's
// own thread, which waits `debounce` (so a burst of pages is one
// evaluation), then evaluates each changed journey. The tailer and gRPC
// threads never wait for an evaluation.
//
// Windows are anchored at the latest UTC day with data for the journey, not
// at the wall clock: replayed or simulated history is monitored as if it
// were live, and a quiet weekend does not empty the current window; only a
// journey whose data ended more than `max_data_age` ago is left alone. The
// current window is the `window_days` days ending with that day; the
// baseline is the window before it (kPrevious) or the `baseline_weeks` weeks
// before it (kTrailing).
//
// Identity and state. An alert's id names (journey, scope, key, metric
// [, measure]), so one comparison has one alert. It is OPEN while the change
// is significant; it turns CLEARED when a later evaluation tests the same
// comparison and finds no significant difference (a comparison that cannot
// be tested — too few answers — leaves the alert as it is). If it turns
// significant again, the same id opens again with a new first_seen. Alerts
// are kept in the AlertStore (SaveAlerts), so first_seen survives restarts.
// The listener hears every alert that opened, cleared or whose numbers
// changed.
//
// Emerging themes (SetThemeSource; docs/themes.md, "Emerging themes as
// alerts"). Each evaluation also asks the theme source which comment themes
// emerge, at each touchpoint with events in the current window, in the ISO
// week of the anchor day. Such an alert's id names (journey, touchpoint,
// theme, week): it is raised (OPEN, told to the listener) the first time it
// is seen and never again — not updated, not reopened — so a theme that
// stays emerging all week is one alert. It clears once an evaluation's
// anchor lies in a later week: its week is over.
#ifndef POLKU_SERVICES_INSIGHT_ALERT_MONITOR_H_
#define POLKU_SERVICES_INSIGHT_ALERT_MONITOR_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "polku/v1/insight.pb.h"
#include "services/insight/server/journey_lineage.h"
#include "services/insight/analytics/monitoring.h"
#include "services/insight/store/alert_store.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

enum class Baseline {
  // The window_days days before the current window.
  kPrevious,
  // The baseline_weeks weeks before the current window.
  kTrailing,
};

struct AlertMonitorOptions {
  int window_days = 7;
  Baseline baseline = Baseline::kPrevious;
  int baseline_weeks = 4;
  // Minimum sample and family-wise α.
  MonitoringOptions test;
  // How long after a change the evaluation starts, so that the pages of a
  // burst are evaluated together.
  absl::Duration debounce = absl::Milliseconds(300);
  // A journey whose latest day with data ended longer ago than this is not
  // evaluated, and its alerts stay as they are: history imported today
  // (polku-import) is not news. polku-insight sets it from
  // --alert_max_data_age_days; infinite monitors replayed history as if it
  // were live.
  absl::Duration max_data_age = absl::InfiniteDuration();
};

// The themes emerging in one journey's current week, for the monitor
// (theme_alerts.h implements it over the theme index).
class EmergingThemeSource {
 public:
  struct Emerging {
    // The ISO week of `anchor` ("2026-W07").
    std::string week;
    // One per emerging (touchpoint, theme), with id, journey, kind, scope,
    // key, windows, numbers and theme set; state and times are the
    // monitor's to set.
    std::vector<v1::Alert> alerts;
  };
  virtual ~EmergingThemeSource() = default;
  // `anchor` is the journey's latest day with data; `touchpoints` the
  // current keys of the touchpoints with events in the current window.
  virtual absl::StatusOr<Emerging> EmergingThemes(
      const std::string& tenant, const std::string& journey, Day anchor,
      const std::vector<std::string>& touchpoints,
      const TouchpointSuccessors& successors) = 0;
};

class AlertMonitor {
 public:
  // Hears each alert that opened, changed or cleared, on the monitor's
  // thread; must not block.
  using Listener =
      std::function<void(const std::string& tenant, const v1::Alert& alert)>;

  // `store`, `clock` and `lineage` must outlive the monitor. With `lineage`,
  // a renamed touchpoint's earlier keys count under its current key.
  AlertMonitor(RollupReader& rollups, AlertStore& alerts,
               AlertMonitorOptions options, Clock& clock = Clock::Real(),
               JourneyLineage* lineage = nullptr);
  // For a store that is both (RollupStore, MemoryRollupStore).
  template <typename Store>
  AlertMonitor(Store& store, AlertMonitorOptions options,
               Clock& clock = Clock::Real(), JourneyLineage* lineage = nullptr)
      : AlertMonitor(static_cast<RollupReader&>(store),
                     static_cast<AlertStore&>(store), options, clock,
                     lineage) {}
  // Stops if running.
  ~AlertMonitor();

  AlertMonitor(const AlertMonitor&) = delete;
  AlertMonitor& operator=(const AlertMonitor&) = delete;

  // Set before Start.
  void SetListener(Listener listener) { listener_ = std::move(listener); }
  // Set before Start; must outlive the monitor. Without one no theme alert
  // is raised (nor cleared).
  void SetThemeSource(EmergingThemeSource* themes) { themes_ = themes; }

  // Starts the monitor's thread and queues every journey with events
  // (RollupReader::JourneysWithEvents). Call once.
  void Start();
  // Joins the thread; an evaluation in progress finishes first. Idempotent.
  void Stop();

  // (tenant, journey) pairs whose rollups changed; an empty journey means
  // every journey of the tenant (an erasure). Never blocks on an evaluation.
  void JourneysChanged(
      const std::vector<std::pair<std::string, std::string>>& journeys);

  // Evaluates one journey now, on the calling thread; returns the alerts
  // that opened, changed or cleared (also saved and told to the listener).
  absl::StatusOr<std::vector<v1::Alert>> Evaluate(const std::string& tenant,
                                                  const std::string& journey);

  // Waits until nothing is queued or being evaluated; false on timeout.
  bool WaitIdle(absl::Duration timeout);

  // Evaluations finished so far (for tests).
  int64_t evaluations() const;

 private:
  void Run();

  RollupReader& store_;
  AlertStore& alerts_;
  const AlertMonitorOptions options_;
  Clock& clock_;
  JourneyLineage* const lineage_;
  Listener listener_;
  EmergingThemeSource* themes_ = nullptr;

  // Serialises evaluations, so two never interleave their alert updates.
  absl::Mutex evaluate_mu_;

  mutable absl::Mutex mu_;
  std::set<std::pair<std::string, std::string>> pending_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t evaluations_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ALERT_MONITOR_H_
