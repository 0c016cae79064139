#include "services/insight/analytics/consistency.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "services/insight/server/alert_monitor.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/analytics/trend.h"

namespace polku::insight {

absl::StatusOr<v1::Consistency> ComputeConsistency(
    RollupReader& store, absl::string_view tenant,
    const v1::GetConsistencyRequest& request, const v1::Journey& journey,
    const MonitoringOptions& options) {
  if (request.journey_version() < 0) {
    return absl::InvalidArgumentError(
        "journey_version: must be 0 (every version) or a version number");
  }
  POLKU_ASSIGN_OR_RETURN(auto days,
                         DaysOfRange(request.range(), kFirstDay, kLastDay));
  std::vector<const v1::Stage*> stages;
  for (const v1::Stage& stage : journey.stages()) {
    if (request.stage().empty() || stage.key() == request.stage()) {
      stages.push_back(&stage);
    }
  }
  if (stages.empty() && !request.stage().empty()) {
    return absl::NotFoundError(absl::StrCat("stage: journey \"",
                                            journey.key(), "\" has no stage \"",
                                            request.stage(), "\""));
  }

  v1::Consistency consistency;
  consistency.set_journey(journey.key());
  if (request.range().has_start()) {
    SetMidnight(days.first, *consistency.mutable_range()->mutable_start());
  }
  if (request.range().has_end()) {
    SetMidnight(days.second, *consistency.mutable_range()->mutable_end());
  }
  int64_t as_of_sequence = 0;
  for (const v1::Stage* stage : stages) {
    ScorecardQuery query{.tenant = std::string(tenant),
                         .journey = journey.key(),
                         .journey_version = request.journey_version(),
                         .start_day = days.first,
                         .end_day = days.second,
                         .group_by = Grouping::kChannel,
                         .stage = stage->key()};
    POLKU_ASSIGN_OR_RETURN(GroupedRollups channels, store.Scorecard(query));
    as_of_sequence = std::max(as_of_sequence, channels.as_of_sequence);
    const ConsistencyReport report = CompareChannels(channels.groups, options);

    v1::StageConsistency* out = consistency.add_stages();
    out->set_stage(stage->key());
    out->set_name(stage->name());
    for (const MetricConsistency& metric : report.metrics) {
      v1::MetricConsistency* metric_out = out->add_metrics();
      const v1::Metric proto_metric = ToProtoMetric(metric.metric);
      metric_out->set_metric(proto_metric);
      metric_out->set_spread(metric.spread);
      metric_out->set_inconsistent(metric.inconsistent);
      for (size_t i = 0; i < metric.channels.size(); ++i) {
        const ChannelMetric& channel = metric.channels[i];
        v1::ChannelValue* value = metric_out->add_channels();
        value->set_channel(channel.channel);
        const MetricValue computed =
            ValueOf(channels.groups[i], proto_metric);
        value->set_n(computed.n);
        if (computed.value) value->set_value(*computed.value);
        if (computed.ci95) {
          value->mutable_ci95()->set_low(computed.ci95->low);
          value->mutable_ci95()->set_high(computed.ci95->high);
        }
        value->set_tested(channel.tested);
        value->set_effect(channel.effect);
        value->set_p_value(channel.p_value);
        value->set_adjusted_p_value(channel.adjusted_p_value);
        value->set_significant(channel.significant);
      }
    }
  }
  consistency.set_as_of_sequence(as_of_sequence);
  return consistency;
}

}  // namespace polku::insight
