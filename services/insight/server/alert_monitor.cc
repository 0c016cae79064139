#include "services/insight/server/alert_monitor.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "services/insight/analytics/scorecard.h"

namespace polku::insight {
namespace {

struct Scope {
  Grouping grouping;
  const char* name;
  v1::GroupBy proto;
};
constexpr Scope kScopes[] = {
    {Grouping::kTouchpoint, "touchpoint", v1::GROUP_BY_TOUCHPOINT},
    {Grouping::kStage, "stage", v1::GROUP_BY_STAGE},
    {Grouping::kChannel, "channel", v1::GROUP_BY_CHANNEL},
};

void SetTime(absl::Time time, google::protobuf::Timestamp& out) {
  const int64_t seconds = absl::ToUnixSeconds(time);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

void SetWindow(Day start, Day end, v1::TimeRange& out) {
  SetMidnight(start, *out.mutable_start());
  SetMidnight(end, *out.mutable_end());
}

std::string AlertId(const std::string& journey, const ChangeAlert& change) {
  std::string id = absl::StrCat(journey, "/", change.scope, "/", change.key,
                                "/", MetricName(change.metric));
  if (!change.measure.empty()) absl::StrAppend(&id, "/", change.measure);
  return id;
}

v1::GroupBy ScopeOf(const std::string& name) {
  for (const Scope& scope : kScopes) {
    if (name == scope.name) return scope.proto;
  }
  return v1::GROUP_BY_UNSPECIFIED;
}

// The comparison's numbers as an alert shows them.
void SetNumbers(const ChangeAlert& change, v1::Alert& alert) {
  alert.set_before(change.before);
  alert.set_after(change.after);
  alert.set_effect(change.effect);
  alert.set_baseline_n(change.baseline_n);
  alert.set_current_n(change.current_n);
  alert.set_p_value(change.p_value);
  alert.set_adjusted_p_value(change.adjusted_p_value);
  alert.set_worse(IsWorse(change.metric, change.effect));
}

bool SameNumbers(const v1::Alert& a, const v1::Alert& b) {
  return a.before() == b.before() && a.after() == b.after() &&
         a.baseline_n() == b.baseline_n() && a.current_n() == b.current_n() &&
         a.adjusted_p_value() == b.adjusted_p_value() &&
         a.baseline_window().SerializeAsString() ==
             b.baseline_window().SerializeAsString() &&
         a.current_window().SerializeAsString() ==
             b.current_window().SerializeAsString();
}

}  // namespace


AlertMonitor::AlertMonitor(RollupReader& rollups, AlertStore& alerts,
                           AlertMonitorOptions options, Clock& clock,
                           JourneyLineage* lineage)
    : store_(rollups),
      alerts_(alerts),
      options_(options),
      clock_(clock),
      lineage_(lineage) {}

AlertMonitor::~AlertMonitor() { Stop(); }

void AlertMonitor::Start() {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> journeys =
      store_.JourneysWithEvents();
  if (journeys.ok()) {
    JourneysChanged(*journeys);
  } else {
    log::Error("cannot list the journeys to monitor",
               {{"error", journeys.status().ToString()}});
  }
  thread_ = std::thread([this] { Run(); });
}

void AlertMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AlertMonitor::JourneysChanged(
    const std::vector<std::pair<std::string, std::string>>& journeys) {
  absl::MutexLock lock(&mu_);
  pending_.insert(journeys.begin(), journeys.end());
}

bool AlertMonitor::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return pending_.empty() && !running_;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

int64_t AlertMonitor::evaluations() const {
  absl::MutexLock lock(&mu_);
  return evaluations_;
}

void AlertMonitor::Run() {
  while (true) {
    std::set<std::pair<std::string, std::string>> batch;
    {
      absl::MutexLock lock(&mu_);
      const auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !pending_.empty();
      };
      mu_.Await(absl::Condition(&wake));
      if (stopping_) return;
      // Pages of one burst arrive within the debounce: one evaluation.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.debounce);
      if (stopping_) return;
      batch.swap(pending_);
      running_ = true;
    }
    // An empty journey (an erasure) stands for every journey of the tenant.
    std::set<std::pair<std::string, std::string>> journeys;
    for (const auto& [tenant, journey] : batch) {
      if (!journey.empty()) {
        journeys.emplace(tenant, journey);
        continue;
      }
      absl::StatusOr<std::vector<std::pair<std::string, std::string>>> all =
          store_.JourneysWithEvents();
      if (!all.ok()) {
        log::Error("cannot list the journeys to monitor",
                   {{"error", all.status().ToString()}});
        continue;
      }
      for (const auto& pair : *all) {
        if (pair.first == tenant) journeys.insert(pair);
      }
    }
    for (const auto& [tenant, journey] : journeys) {
      absl::StatusOr<std::vector<v1::Alert>> changed =
          Evaluate(tenant, journey);
      if (!changed.ok()) {
        log::Error("change-alert evaluation failed",
                   {{"tenant", tenant},
                    {"journey", journey},
                    {"error", changed.status().ToString()}});
      }
    }
    absl::MutexLock lock(&mu_);
    running_ = false;
  }
}

absl::StatusOr<std::vector<v1::Alert>> AlertMonitor::Evaluate(
    const std::string& tenant, const std::string& journey) {
  absl::MutexLock evaluate_lock(&evaluate_mu_);
  const absl::Time now = clock_.Now();

  // The anchor: the latest day with data for the journey.
  ScorecardQuery days_query{
      .tenant = tenant, .journey = journey, .group_by = Grouping::kDay};
  POLKU_ASSIGN_OR_RETURN(GroupedRollups days, store_.Scorecard(days_query));
  std::vector<WindowComparison> windows;
  Day anchor = 0, current_start = 0, current_end = 0, baseline_start = 0;
  std::optional<EmergingThemeSource::Emerging> emerging;
  if (!days.groups.empty()) {
    anchor = days.groups.front().day;
    for (const GroupRollup& day : days.groups) anchor = std::max(anchor, day.day);
    current_end = anchor + 1;
    if (now - StartOfDay(current_end) > options_.max_data_age) {
      // History, not news: nothing is compared, and alerts stay as they are.
      log::Info("change alerts evaluated",
                {{"tenant", tenant},
                 {"journey", journey},
                 {"as_of_sequence", days.as_of_sequence},
                 {"current_window_end_day", current_end},
                 {"changed", 0},
                 {"skipped",
                  "the journey's latest data is older than "
                  "--alert_max_data_age_days"}});
      absl::MutexLock lock(&mu_);
      ++evaluations_;
      return std::vector<v1::Alert>();
    }
    current_start = current_end - options_.window_days;
    baseline_start = options_.baseline == Baseline::kPrevious
                         ? current_start - options_.window_days
                         : current_start - 7 * options_.baseline_weeks;

    TouchpointSuccessors successors;
    if (lineage_ != nullptr) {
      absl::StatusOr<TouchpointSuccessors> chain =
          lineage_->Successors(tenant, journey);
      if (chain.ok()) {
        successors = *std::move(chain);
      } else {
        log::Warning("change alerts without the rename chain",
                     {{"journey", journey},
                      {"error", chain.status().ToString()}});
      }
    }
    for (const Scope& scope : kScopes) {
      ScorecardQuery query{
          .tenant = tenant, .journey = journey, .group_by = scope.grouping};
      WindowComparison& window = windows.emplace_back();
      window.scope = scope.name;
      query.start_day = baseline_start;
      query.end_day = current_start;
      POLKU_ASSIGN_OR_RETURN(GroupedRollups baseline, store_.Scorecard(query));
      query.start_day = current_start;
      query.end_day = current_end;
      POLKU_ASSIGN_OR_RETURN(GroupedRollups current, store_.Scorecard(query));
      window.baseline = std::move(baseline.groups);
      window.current = std::move(current.groups);
      if (scope.grouping == Grouping::kTouchpoint && !successors.empty()) {
        window.baseline = MergeRenamed(std::move(window.baseline), successors);
        window.current = MergeRenamed(std::move(window.current), successors);
      }
    }
    if (themes_ != nullptr) {
      std::vector<std::string> touchpoints;
      for (const GroupRollup& group : windows.front().current) {
        touchpoints.push_back(group.group);
      }
      absl::StatusOr<EmergingThemeSource::Emerging> found =
          themes_->EmergingThemes(tenant, journey, anchor, touchpoints,
                                  successors);
      if (found.ok()) {
        emerging = *std::move(found);
      } else {
        // The metric alerts do not wait for the themes: the next evaluation
        // tries again.
        log::Warning("emerging themes not evaluated",
                     {{"journey", journey},
                      {"error", found.status().ToString()}});
      }
    }
  }

  POLKU_ASSIGN_OR_RETURN(std::vector<v1::Alert> stored,
                         alerts_.LoadAlerts(tenant, journey,
                                           /*include_cleared=*/true));
  std::map<std::string, v1::Alert> known;
  for (v1::Alert& alert : stored) {
    std::string id = alert.id();
    known.emplace(std::move(id), std::move(alert));
  }

  std::vector<v1::Alert> changed;
  std::set<std::string> compared;
  for (const ChangeAlert& comparison :
       CompareWindows(windows, options_.test)) {
    const std::string id = AlertId(journey, comparison);
    compared.insert(id);
    auto existing = known.find(id);
    const bool open =
        existing != known.end() && existing->second.state() == v1::OPEN;
    if (!comparison.significant && !open) continue;

    v1::Alert alert;
    if (existing != known.end()) alert = existing->second;
    alert.set_id(id);
    alert.set_journey(journey);
    alert.set_scope(ScopeOf(comparison.scope));
    alert.set_key(comparison.key);
    alert.set_metric(ToProtoMetric(comparison.metric));
    alert.set_measure(comparison.measure);
    alert.set_kind(v1::METRIC_CHANGE);
    SetWindow(baseline_start, current_start, *alert.mutable_baseline_window());
    SetWindow(current_start, current_end, *alert.mutable_current_window());
    SetNumbers(comparison, alert);
    if (comparison.significant && !open) {
      // Opens (again): a new episode.
      alert.set_state(v1::OPEN);
      SetTime(now, *alert.mutable_first_seen());
      alert.clear_cleared_at();
    } else if (!comparison.significant) {
      // Recovered: tested, and no longer significantly different.
      alert.set_state(v1::CLEARED);
      SetTime(now, *alert.mutable_cleared_at());
    } else if (SameNumbers(alert, existing->second)) {
      continue;  // still open, nothing new to say
    }
    SetTime(now, *alert.mutable_last_evaluated());
    changed.push_back(std::move(alert));
  }
  // An open alert that could not be tested again: while its group still has
  // events in the current window (just too few answers) it stands; once the
  // group has none there (its events left the window or were erased) the
  // change it reported can no longer be seen, so it clears.
  for (const auto& [id, alert] : known) {
    if (alert.state() != v1::OPEN || compared.contains(id) ||
        alert.kind() == v1::EMERGING_THEME) {
      continue;
    }
    const v1::Alert& open = alert;  // a lambda cannot capture a binding (C++17)
    const bool still_present = std::any_of(
        windows.begin(), windows.end(), [&](const WindowComparison& window) {
          return ScopeOf(window.scope) == open.scope() &&
                 std::any_of(window.current.begin(), window.current.end(),
                             [&](const GroupRollup& group) {
                               return group.group == open.key();
                             });
        });
    if (still_present) continue;
    v1::Alert cleared = alert;
    cleared.set_state(v1::CLEARED);
    SetTime(now, *cleared.mutable_cleared_at());
    SetTime(now, *cleared.mutable_last_evaluated());
    changed.push_back(std::move(cleared));
  }
  if (emerging.has_value()) {
    // Raised once per (journey, touchpoint, theme, week): an id seen before,
    // open or cleared, is not raised again.
    for (v1::Alert& alert : emerging->alerts) {
      if (known.contains(alert.id())) continue;
      alert.set_kind(v1::EMERGING_THEME);
      alert.set_state(v1::OPEN);
      SetTime(now, *alert.mutable_first_seen());
      SetTime(now, *alert.mutable_last_evaluated());
      changed.push_back(std::move(alert));
    }
    // A theme alert of an earlier week: that week is over.
    for (const auto& [id, alert] : known) {
      if (alert.kind() != v1::EMERGING_THEME || alert.state() != v1::OPEN ||
          alert.theme().week() == emerging->week) {
        continue;
      }
      v1::Alert cleared = alert;
      cleared.set_state(v1::CLEARED);
      SetTime(now, *cleared.mutable_cleared_at());
      SetTime(now, *cleared.mutable_last_evaluated());
      changed.push_back(std::move(cleared));
    }
  }
  if (!changed.empty()) POLKU_RETURN_IF_ERROR(alerts_.SaveAlerts(tenant, changed));
  // One line per evaluation (at most one per debounce and journey): what
  // was compared and how far the feed was counted, for operators and tests.
  log::Info("change alerts evaluated",
            {{"tenant", tenant},
             {"journey", journey},
             {"as_of_sequence", days.as_of_sequence},
             {"current_window_end_day", current_end},
             {"changed", changed.size()}});
  {
    absl::MutexLock lock(&mu_);
    ++evaluations_;
  }
  if (listener_) {
    for (const v1::Alert& alert : changed) listener_(tenant, alert);
  }
  return changed;
}

}  // namespace polku::insight
