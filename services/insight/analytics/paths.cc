// GetPaths (docs/funnels.md): sequences of channels and stages per
// customer, the channel-switching matrix, switchers' satisfaction.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/base/status_macros.h"
#include "lib/stats/significance.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/analytics/funnel_stats.h"

namespace polku::insight {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kDefaultSwitchSeconds = 7 * 86'400;
constexpr int64_t kMaxSwitchSeconds = 366 * 86'400;
constexpr int kDefaultTop = 10;
constexpr int kMaxTop = 100;

void SetInterval(const stats::Interval& in, v1::Interval* out) {
  out->set_low(in.low);
  out->set_high(in.high);
}

// Sequences → customers; a sequence is its steps' indices, two bytes each
// (short paths stay within std::string's own buffer: no allocation).
using PathTally = absl::flat_hash_map<std::string, int64_t>;

// Customers of one group by their NPS answer.
struct NpsGroup {
  int64_t n = 0, promoters = 0, detractors = 0;

  void Add(int answer) {
    ++n;
    promoters += answer >= 9;
    detractors += answer <= 6;
  }
  // −100 … 100; 0 without customers.
  double Score() const {
    return n == 0 ? 0 : 100.0 * static_cast<double>(promoters - detractors) /
                            static_cast<double>(n);
  }
  // Of the score on the share scale (p⁺ − p⁻).
  double Variance() const {
    if (n == 0) return 0;
    const double up = static_cast<double>(promoters) / static_cast<double>(n);
    const double down = static_cast<double>(detractors) / static_cast<double>(n);
    return (up + down - (up - down) * (up - down)) / static_cast<double>(n);
  }
};

void AppendStep(std::string& path, int32_t step) {
  path.push_back(static_cast<char>(step & 0xff));
  path.push_back(static_cast<char>((step >> 8) & 0xff));
}

void FillTop(const PathTally& tally, const std::vector<std::string>& names,
             int64_t customers, int top,
             google::protobuf::RepeatedPtrField<v1::PathCount>* out) {
  // Only paths as common as the top-th can be listed: names for those.
  int64_t least = 0;
  if (tally.size() > static_cast<size_t>(top)) {
    std::vector<int64_t> counts;
    counts.reserve(tally.size());
    for (const auto& [path, n] : tally) counts.push_back(n);
    std::nth_element(counts.begin(), counts.begin() + (top - 1), counts.end(),
                     std::greater<int64_t>());
    least = counts[top - 1];
  }
  std::vector<std::pair<std::vector<std::string>, int64_t>> paths;
  for (const auto& [path, n] : tally) {
    if (n < least) continue;
    std::vector<std::string> steps;
    for (size_t i = 0; i + 1 < path.size(); i += 2) {
      const int32_t step = static_cast<unsigned char>(path[i]) |
                           (static_cast<unsigned char>(path[i + 1]) << 8);
      steps.push_back(names[step]);
    }
    paths.emplace_back(std::move(steps), n);
  }
  std::sort(paths.begin(), paths.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;
  });
  if (paths.size() > static_cast<size_t>(top)) paths.resize(top);
  for (auto& [steps, n] : paths) {
    v1::PathCount* path = out->Add();
    for (std::string& step : steps) path->add_steps(std::move(step));
    path->set_customers(n);
    path->set_share(static_cast<double>(n) / customers);
    SetInterval(WilsonExact(n, customers), path->mutable_share_ci95());
  }
}

// One value per customer, for Welch's test.
struct Sample {
  std::vector<double> values;
  stats::Moments Moments() const {
    stats::Moments m;
    m.n = static_cast<int64_t>(values.size());
    if (m.n == 0) return m;
    double sum = 0;
    for (double v : values) sum += v;
    m.mean = sum / m.n;
    if (m.n < 2) return m;
    double squares = 0;
    for (double v : values) squares += (v - m.mean) * (v - m.mean);
    m.variance = squares / (m.n - 1);
    return m;
  }
};

}  // namespace

v1::Paths EvaluatePaths(const FunnelSource& source,
                        int64_t switch_within_micros, int top) {
  const FunnelNames& log = source.Names();
  v1::Paths paths;
  const size_t channels = log.channels.size();
  PathTally by_channel, by_stage;
  std::vector<int64_t> with_touch(channels, 0);
  // [from · channels + to] → customers, and the last customer counted in
  // each cell (so that a customer counts once per cell).
  std::vector<int64_t> switched(channels * channels, 0);
  std::vector<int64_t> counted_for(channels * channels, -1);
  std::vector<int64_t> touched_by(channels, -1);
  // [metric][switcher?]
  Sample samples[3][2];
  // Customers by their last NPS answer: [switcher?].
  NpsGroup nps_groups[2];
  int64_t customers = 0, switchers = 0;
  std::string channel_path, stage_path;
  std::vector<FunnelTouch> touches;
  for (size_t c = 0; c < source.customers(); ++c) {
    source.Touches(c, touches);
    const size_t end = touches.size();
    if (end == 0) continue;
    const int64_t customer = customers++;
    channel_path.clear();
    stage_path.clear();
    int32_t last_channel = -1, last_stage = -1;
    bool switcher = false;
    double sums[3] = {0, 0, 0};
    int counts[3] = {0, 0, 0};
    int last_nps = -1;
    for (size_t i = 0; i < end; ++i) {
      const FunnelTouch& t = touches[i];
      if (t.channel != last_channel) {
        AppendStep(channel_path, t.channel);
        last_channel = t.channel;
      }
      if (t.stage != last_stage) {
        AppendStep(stage_path, t.stage);
        last_stage = t.stage;
      }
      if (touched_by[t.channel] != customer) {
        touched_by[t.channel] = customer;
        ++with_touch[t.channel];
      }
      const int8_t answers[3] = {t.csat, t.ces, t.nps};
      for (int m = 0; m < 3; ++m) {
        if (answers[m] >= 0) {
          sums[m] += answers[m];
          ++counts[m];
        }
      }
      if (t.nps >= 0) last_nps = t.nps;
      if (i + 1 < end && touches[i + 1].at - t.at <= switch_within_micros) {
        const int32_t next = touches[i + 1].channel;
        const size_t cell = static_cast<size_t>(t.channel) * channels + next;
        if (counted_for[cell] != customer) {
          counted_for[cell] = customer;
          ++switched[cell];
        }
        switcher = switcher || next != t.channel;
      }
    }
    ++by_channel[channel_path];
    ++by_stage[stage_path];
    switchers += switcher;
    for (int m = 0; m < 3; ++m) {
      if (counts[m] > 0) samples[m][switcher].values.push_back(sums[m] / counts[m]);
    }
    if (last_nps >= 0) nps_groups[switcher].Add(last_nps);
  }
  paths.set_customers(customers);
  paths.set_switchers(switchers);
  if (customers > 0) {
    FillTop(by_channel, log.channels, customers, top,
            paths.mutable_channel_paths());
    FillTop(by_stage, log.stages, customers, top, paths.mutable_stage_paths());
  }
  std::vector<int32_t> order;
  for (size_t ch = 0; ch < channels; ++ch) {
    if (with_touch[ch] > 0) order.push_back(static_cast<int32_t>(ch));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return log.channels[a] < log.channels[b];
  });
  for (int32_t from : order) paths.add_channels(log.channels[from]);
  for (int32_t from : order) {
    for (int32_t to : order) {
      const int64_t n = switched[static_cast<size_t>(from) * channels + to];
      if (n == 0) continue;
      v1::SwitchCell* cell = paths.add_switching();
      cell->set_from(log.channels[from]);
      cell->set_to(log.channels[to]);
      cell->set_customers(n);
      cell->set_of(with_touch[from]);
      cell->set_share(static_cast<double>(n) / with_touch[from]);
      SetInterval(WilsonExact(n, with_touch[from]), cell->mutable_share_ci95());
    }
  }
  const char* metrics[3] = {"csat", "ces", "nps"};
  for (int m = 0; m < 3; ++m) {
    const stats::Moments yes = samples[m][1].Moments();
    const stats::Moments no = samples[m][0].Moments();
    if (yes.n == 0 && no.n == 0) continue;
    v1::SwitcherComparison* comparison = paths.add_satisfaction();
    comparison->set_metric(metrics[m]);
    comparison->set_switchers(yes.n);
    comparison->set_switchers_mean(yes.mean);
    comparison->set_others(no.n);
    comparison->set_others_mean(no.mean);
    const stats::TestResult test = stats::WelchTTest(no, yes);
    comparison->set_difference(yes.mean - no.mean);
    comparison->set_p_value(test.p_value);
    comparison->set_differs(test.valid && test.p_value < 0.05);
  }
  if (nps_groups[0].n + nps_groups[1].n > 0) {
    // The NPS itself, each customer classified by their last answer.
    const NpsGroup& yes = nps_groups[1];
    const NpsGroup& no = nps_groups[0];
    v1::SwitcherComparison* comparison = paths.add_satisfaction();
    comparison->set_metric("nps_score");
    comparison->set_switchers(yes.n);
    comparison->set_switchers_mean(yes.Score());
    comparison->set_others(no.n);
    comparison->set_others_mean(no.Score());
    comparison->set_difference(yes.Score() - no.Score());
    // z-test of the difference of two NPS: on the share scale, an NPS is
    // p⁺ − p⁻ with variance (p⁺ + p⁻ − (p⁺ − p⁻)²)/n.
    const double variance = yes.Variance() + no.Variance();
    const bool valid = yes.n >= 2 && no.n >= 2 && variance > 0;
    double p_value = 1;
    if (valid) {
      const double z = (yes.Score() - no.Score()) / 100 / std::sqrt(variance);
      p_value = 2 * stats::NormalCdf(-std::fabs(z));
    }
    comparison->set_p_value(p_value);
    comparison->set_differs(valid && p_value < 0.05);
  }
  return paths;
}

absl::StatusOr<v1::Paths> ComputePaths(LedgerReader& ledger,
                                       absl::string_view tenant,
                                       const v1::GetPathsRequest& request,
                                       const v1::Journey& journey,
                                       absl::Time now, TouchIndex* index) {
  POLKU_RETURN_IF_ERROR(CheckFunnelScope(request.scope()));
  int64_t start = 0, end = 0;
  POLKU_RETURN_IF_ERROR(ResolveRange(request.range(), "range",
                                     absl::ToUnixMicros(now), &start, &end));
  const int64_t within = request.switch_within_seconds() == 0
                             ? kDefaultSwitchSeconds
                             : request.switch_within_seconds();
  if (within < 0 || within > kMaxSwitchSeconds) {
    return absl::InvalidArgumentError(
        "switch_within_seconds: must be between 1 and 31622400 (366 days); 0 "
        "= 7 days");
  }
  if (request.top() < 0 || request.top() > kMaxTop) {
    return absl::InvalidArgumentError("top: must be between 0 (= 10) and 100");
  }
  const int top = request.top() == 0 ? kDefaultTop : request.top();
  POLKU_ASSIGN_OR_RETURN(ScorecardQuery query,
                         PeriodQuery(request.scope(), tenant, start, end));
  v1::Paths paths;
  if (UsesIndex(index, request.scope(), GroupBy::kNone)) {
    POLKU_RETURN_IF_ERROR(UseTouchIndex(
          *index,
        std::string(tenant), journey,
        {.start = start, .end = end, .channel = request.scope().channel(),
         .journey_version = request.scope().journey_version()},
        [&](const FunnelSource& source, int64_t as_of) {
          paths = EvaluatePaths(source, within * kMicrosPerSecond, top);
          paths.set_as_of_sequence(as_of);
        }));
  } else {
    POLKU_ASSIGN_OR_RETURN(FunnelLog log,
                           ReadFunnelLog(ledger, query, start, end, journey,
                                         GroupBy::kNone, ""));
    paths = EvaluatePaths(log, within * kMicrosPerSecond, top);
    paths.set_as_of_sequence(log.as_of_sequence);
  }
  paths.set_journey(journey.key());
  *paths.mutable_range()->mutable_start() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(start);
  *paths.mutable_range()->mutable_end() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(end);
  paths.set_switch_within_seconds(within);
  return paths;
}

}  // namespace polku::insight
