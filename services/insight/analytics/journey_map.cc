#include "services/insight/analytics/journey_map.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "lib/base/status_macros.h"
#include "lib/stats/significance.h"
#include "services/insight/server/journey_lineage.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/analytics/trend.h"

namespace polku::insight {
namespace {

// Touchpoint groups by current key.
absl::StatusOr<std::map<std::string, GroupRollup>> TouchpointRollups(
    RollupReader& store, absl::string_view tenant, const std::string& journey,
    Day start, Day end, const TouchpointSuccessors& successors,
    int64_t* as_of_sequence) {
  ScorecardQuery query{.tenant = std::string(tenant),
                       .journey = journey,
                       .start_day = start,
                       .end_day = end,
                       .group_by = Grouping::kTouchpoint};
  POLKU_ASSIGN_OR_RETURN(GroupedRollups rollups, store.Scorecard(query));
  if (as_of_sequence != nullptr) *as_of_sequence = rollups.as_of_sequence;
  std::map<std::string, GroupRollup> by_key;
  for (GroupRollup& group : MergeRenamed(std::move(rollups.groups), successors)) {
    std::string key = group.group;
    by_key.emplace(std::move(key), std::move(group));
  }
  return by_key;
}

v1::Metric HeadlineOf(const v1::Touchpoint& touchpoint,
                      const GroupRollup& rollup, std::optional<double>* target) {
  const v1::Target& t = touchpoint.target();
  if (t.has_csat_top2_box()) {
    *target = t.csat_top2_box();
    return v1::CSAT_TOP2_BOX;
  }
  if (t.has_nps()) {
    *target = t.nps();
    return v1::NPS;
  }
  if (t.has_ces_mean()) {
    *target = t.ces_mean();
    return v1::CES_MEAN;
  }
  for (v1::Metric metric : {v1::CSAT_TOP2_BOX, v1::NPS, v1::CES_MEAN}) {
    if (ValueOf(rollup, metric).n > 0) return metric;
  }
  return v1::CSAT_TOP2_BOX;
}

v1::TargetStatus StatusOf(const MetricValue& value,
                          const std::optional<double>& target) {
  if (!target) return v1::NO_TARGET;
  if (!value.value) return v1::INSUFFICIENT_DATA;
  if (*value.value >= *target) return v1::MEETS_TARGET;
  if (value.ci95 && value.ci95->high < *target) return v1::BELOW_TARGET;
  return v1::NEAR_TARGET;
}

}  // namespace

namespace {

// The change of `metric` from `first` to `second`, tested; not tested (too
// few answers) leaves `tested` false.
struct TrendTest {
  bool tested = false;
  double effect = 0;
  double p_value = 1;
};

TrendTest TrendTestOf(const GroupRollup& first, const GroupRollup& second,
                      v1::Metric metric, const MonitoringOptions& options) {
  stats::TestResult result;
  double effect = 0;
  if (metric == v1::NPS) {
    const stats::NpsSummary a = stats::SummarizeNps(first.nps);
    const stats::NpsSummary b = stats::SummarizeNps(second.nps);
    if (a.responses < options.min_sample || b.responses < options.min_sample) {
      return {};
    }
    // NPS's own variance per answer, 100²·(p + d − (p − d)²).
    const auto variance = [](const stats::NpsSummary& s) {
      const double n = static_cast<double>(s.responses);
      const double p = static_cast<double>(s.promoters) / n;
      const double d = static_cast<double>(s.detractors) / n;
      return 10'000 * (p + d - (p - d) * (p - d)) / n;
    };
    const double se = std::sqrt(variance(a) + variance(b));
    effect = b.score - a.score;
    if (se > 0) {
      result.valid = true;
      result.p_value = 2 * (1 - stats::NormalCdf(std::fabs(effect) / se));
    }
  } else {
    const Metric monitored = metric == v1::CES_MEAN ? Metric::kCesMean
                                                    : Metric::kCsatTop2Box;
    const MetricSample a = SampleOf(first, monitored);
    const MetricSample b = SampleOf(second, monitored);
    if (a.n < options.min_sample || b.n < options.min_sample) return {};
    result = monitored == Metric::kCesMean
                 ? stats::WelchTTest({a.n, a.value, a.variance},
                                     {b.n, b.value, b.variance})
                 : stats::TwoProportionZTest({a.successes, a.n},
                                             {b.successes, b.n});
    effect = b.value - a.value;
  }
  if (!result.valid) return {.tested = true};
  return {.tested = true, .effect = effect, .p_value = result.p_value};
}

v1::TrendDirection DirectionFrom(const TrendTest& test, double p_value,
                                 double alpha) {
  if (!test.tested) return v1::TREND_UNKNOWN;
  if (p_value >= alpha || test.effect == 0) return v1::TREND_FLAT;
  return test.effect > 0 ? v1::TREND_UP : v1::TREND_DOWN;
}

}  // namespace

v1::TrendDirection DirectionOf(const GroupRollup& first,
                               const GroupRollup& second, v1::Metric metric,
                               const MonitoringOptions& options) {
  const TrendTest test = TrendTestOf(first, second, metric, options);
  return DirectionFrom(test, test.p_value, options.alpha);
}

absl::StatusOr<v1::JourneyMap> ComputeJourneyMap(
    RollupReader& store, AlertStore& alerts, absl::string_view tenant,
    const v1::GetJourneyMapRequest& request, const v1::Journey& drawn,
    const v1::Journey& latest, absl::Time now,
    const MonitoringOptions& options) {
  const Day today = DayOf(now);
  POLKU_ASSIGN_OR_RETURN(
      auto days, DaysOfRange(request.range(), today - (kDefaultMapDays - 1),
                             today + 1));
  const TouchpointSuccessors successors = SuccessorsOf(latest);
  const auto current_key = [&](const std::string& key) {
    auto successor = successors.find(key);
    return successor == successors.end() ? key : successor->second;
  };

  int64_t as_of_sequence = 0;
  POLKU_ASSIGN_OR_RETURN(
      auto whole, TouchpointRollups(store, tenant, drawn.key(), days.first,
                                    days.second, successors, &as_of_sequence));
  const Day middle = days.first + (days.second - days.first) / 2;
  POLKU_ASSIGN_OR_RETURN(
      auto first_half, TouchpointRollups(store, tenant, drawn.key(), days.first,
                                         middle, successors, nullptr));
  POLKU_ASSIGN_OR_RETURN(
      auto second_half,
      TouchpointRollups(store, tenant, drawn.key(), middle, days.second,
                        successors, nullptr));
  POLKU_ASSIGN_OR_RETURN(std::vector<v1::Alert> open_alerts,
                         alerts.LoadAlerts(std::string(tenant), drawn.key(),
                                          /*include_cleared=*/false));

  v1::JourneyMap map;
  map.set_journey(drawn.key());
  map.set_name(drawn.name());
  map.set_journey_version(drawn.version());
  SetMidnight(days.first, *map.mutable_range()->mutable_start());
  SetMidnight(days.second, *map.mutable_range()->mutable_end());
  map.set_as_of_sequence(as_of_sequence);

  // Channels in first-use order: stage by stage, touchpoints as listed.
  std::vector<std::string> channels;
  for (const v1::Stage& stage : drawn.stages()) {
    v1::MapStage* column = map.add_stages();
    column->set_key(stage.key());
    column->set_name(stage.name());
    for (const v1::Touchpoint& touchpoint : drawn.touchpoints()) {
      if (touchpoint.stage() == stage.key() &&
          std::find(channels.begin(), channels.end(), touchpoint.channel()) ==
              channels.end()) {
        channels.push_back(touchpoint.channel());
      }
    }
  }
  for (const std::string& channel : channels) map.add_channels(channel);

  const GroupRollup empty;
  const auto rollup_of = [&](const std::map<std::string, GroupRollup>& groups,
                             const std::string& key) -> const GroupRollup& {
    auto found = groups.find(key);
    return found == groups.end() ? empty : found->second;
  };
  // One per touchpoint, in the order they appear in map.cells().
  std::vector<TrendTest> trends;
  for (const v1::Stage& stage : drawn.stages()) {
    for (const std::string& channel : channels) {
      v1::MapCell cell;
      cell.set_stage(stage.key());
      cell.set_channel(channel);
      for (const v1::Touchpoint& touchpoint : drawn.touchpoints()) {
        if (touchpoint.stage() != stage.key() ||
            touchpoint.channel() != channel) {
          continue;
        }
        const std::string key = current_key(touchpoint.key());
        const GroupRollup& rollup = rollup_of(whole, key);
        v1::MapTouchpoint* out = cell.add_touchpoints();
        out->set_key(touchpoint.key());
        out->set_name(touchpoint.name());
        std::optional<double> target;
        const v1::Metric headline = HeadlineOf(touchpoint, rollup, &target);
        out->set_headline_metric(headline);
        const MetricValue value = ValueOf(rollup, headline);
        out->set_n(value.n);
        if (value.value) out->set_value(*value.value);
        if (value.ci95) {
          out->mutable_ci95()->set_low(value.ci95->low);
          out->mutable_ci95()->set_high(value.ci95->high);
        }
        if (target) out->set_target(*target);
        out->set_target_status(StatusOf(value, target));
        trends.push_back(TrendTestOf(rollup_of(first_half, key),
                                     rollup_of(second_half, key), headline,
                                     options));
        out->set_events(rollup.events);
        for (const v1::Alert& alert : open_alerts) {
          if (alert.scope() == v1::GROUP_BY_TOUCHPOINT &&
              (alert.key() == key || alert.key() == touchpoint.key())) {
            *out->add_open_alerts() = alert;
          }
        }
      }
      if (cell.touchpoints_size() > 0) *map.add_cells() = std::move(cell);
    }
  }
  // Every arrow of the map is one family of tests: Holm's adjustment keeps
  // false arrows at alpha for the whole map, as for change alerts.
  std::vector<double> p_values;
  for (const TrendTest& test : trends) {
    if (test.tested) p_values.push_back(test.p_value);
  }
  const std::vector<double> adjusted = stats::HolmAdjust(p_values);
  size_t touchpoint = 0, next_adjusted = 0;
  for (v1::MapCell& cell : *map.mutable_cells()) {
    for (v1::MapTouchpoint& out : *cell.mutable_touchpoints()) {
      const TrendTest& test = trends[touchpoint++];
      const double p_value = test.tested ? adjusted[next_adjusted++] : 1;
      out.set_trend(DirectionFrom(test, p_value, options.alpha));
    }
  }
  return map;
}

}  // namespace polku::insight
