#include "services/insight/analytics/funnel.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/base/status_macros.h"
#include "lib/stats/scores.h"
#include "lib/stats/significance.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/analytics/funnel_stats.h"
#include "services/insight/analytics/scope.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/store/rollup_math.h"

namespace polku::insight {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kDefaultWindowSeconds = 30 * 86'400;
constexpr int64_t kMaxWindowSeconds = 366 * 86'400;
constexpr double kAlpha = 0.05;

double Seconds(int64_t micros) {
  return static_cast<double>(micros) / kMicrosPerSecond;
}

void SetInterval(const stats::Interval& in, v1::Interval* out) {
  out->set_low(in.low);
  out->set_high(in.high);
}

// Where one customer got to: the time each step was reached and the touch
// that reached it.
struct Path {
  int level = 0;
  std::vector<int64_t> at;
  std::vector<uint32_t> index;
};

class Tracer {
 public:
  Tracer(size_t stages, const FunnelSpec& spec)
      : spec_(spec), position_(stages, -1) {
    for (size_t j = 0; j < spec.steps.size(); ++j) {
      position_[spec.steps[j]] = static_cast<int>(j);
    }
    first_.resize(spec.steps.size());
  }

  // The path of one customer's touches `t` (in time order).
  void Trace(const std::vector<FunnelTouch>& t, Path& path) {
    const uint32_t begin = 0, end = static_cast<uint32_t>(t.size());
    const size_t k = spec_.steps.size();
    path.level = 0;
    path.at.assign(k, 0);
    path.index.assign(k, 0);
    if (spec_.any_order) {
      std::fill(first_.begin(), first_.end(), kNone);
      for (uint32_t i = begin; i < end; ++i) {
        const int p = position_[t[i].stage];
        if (p >= 0 && first_[p] == kNone) first_[p] = i;
      }
      if (first_[0] == kNone) return;
      int64_t reached = t[first_[0]].at;
      uint32_t index = first_[0];
      path.at[0] = reached;
      path.index[0] = index;
      path.level = 1;
      for (size_t j = 1; j < k; ++j) {
        if (first_[j] == kNone) break;
        const int64_t next = std::max(reached, t[first_[j]].at);
        if (next - reached > spec_.window_micros) break;
        reached = next;
        index = std::max(index, first_[j]);
        path.at[j] = reached;
        path.index[j] = index;
        path.level = static_cast<int>(j) + 1;
      }
      return;
    }
    uint32_t i = begin;
    while (i < end && t[i].stage != spec_.steps[0]) ++i;
    if (i == end) return;
    path.at[0] = t[i].at;
    path.index[0] = i;
    path.level = 1;
    uint32_t cursor = i;  // first touch at or after the last step's time
    for (size_t j = 1; j < k; ++j) {
      const int64_t from = path.at[j - 1];
      const int64_t deadline = from + spec_.window_micros;
      while (cursor > begin && t[cursor - 1].at >= from) --cursor;
      bool found = false;
      for (uint32_t n = cursor; n < end && t[n].at <= deadline; ++n) {
        if (t[n].stage == spec_.steps[j]) {
          path.at[j] = t[n].at;
          path.index[j] = n;
          cursor = n;
          found = true;
          break;
        }
      }
      if (!found) break;
      path.level = static_cast<int>(j) + 1;
    }
  }

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  const FunnelSpec& spec_;
  std::vector<int> position_;
  std::vector<uint32_t> first_;
};

// What a set of customers adds up to.
struct Tally {
  explicit Tally(size_t steps, size_t optional)
      : reached(steps), responded(steps), follow(steps), complete(steps),
        dropped(steps), in_progress(steps), last_touchpoint(steps),
        drop_offs(steps), taken(optional) {}
  int64_t customers = 0;
  int64_t in_progress_total = 0;
  std::vector<int64_t> reached, responded;
  std::vector<std::vector<FollowUp>> follow;
  std::vector<std::vector<double>> complete;
  std::vector<int64_t> dropped, in_progress;
  std::vector<std::map<int32_t, int64_t>> last_touchpoint;
  // (kind, key index) → customers.
  std::vector<std::map<std::pair<int, int32_t>, int64_t>> drop_offs;
  std::vector<int64_t> taken;
};

// Runs `visit(touches, path)` for every customer in the funnel.
template <typename Visit>
void ForEachPath(const FunnelSource& source, const FunnelSpec& spec,
                 Visit visit) {
  Tracer tracer(source.Names().stages.size(), spec);
  Path path;
  std::vector<FunnelTouch> touches;
  for (size_t c = 0; c < source.customers(); ++c) {
    source.Touches(c, touches);
    tracer.Trace(touches, path);
    if (path.level == 0) continue;
    visit(touches, path);
  }
}

void Add(const FunnelSpec& spec, const std::vector<FunnelTouch>& t,
         const Path& path, std::vector<char>& rated,
         std::vector<char>& touched, Tally& tally) {
  const uint32_t end = static_cast<uint32_t>(t.size());
  const size_t k = spec.steps.size();
  for (uint32_t i = 0; i < end; ++i) {
    touched[t[i].stage] = 1;
    if (t[i].rated) rated[t[i].stage] = 1;
  }
  ++tally.customers;
  for (int j = 0; j < path.level; ++j) {
    ++tally.reached[j];
    if (rated[spec.steps[j]]) ++tally.responded[j];
  }
  for (size_t o = 0; o < spec.optional.size(); ++o) {
    if (touched[spec.optional[o]]) ++tally.taken[o];
  }
  for (int j = 0; j < path.level && static_cast<size_t>(j) + 1 < k; ++j) {
    const bool passed = spec.as_of - path.at[j] >= spec.window_micros;
    if (path.level > j + 1) {
      const double took = Seconds(path.at[j + 1] - path.at[j]);
      tally.follow[j].push_back({took, true});
      if (passed) tally.complete[j].push_back(took);
      continue;
    }
    if (!passed) {
      ++tally.in_progress[j];
      ++tally.in_progress_total;
      tally.follow[j].push_back(
          {Seconds(std::max<int64_t>(0, spec.as_of - path.at[j])), false});
      continue;
    }
    ++tally.dropped[j];
    tally.follow[j].push_back({Seconds(spec.window_micros), false});
    const int64_t window_end = path.at[j] + spec.window_micros;
    const uint32_t reached = path.index[j];
    uint32_t last = reached;
    while (last + 1 < end && t[last + 1].at <= window_end) ++last;
    ++tally.last_touchpoint[j][t[last].touchpoint];
    if (last == reached) {
      ++tally.drop_offs[j][{v1::NOTHING, -1}];
    } else {
      const FunnelTouch& next = t[reached + 1];
      if (next.stage != spec.steps[j]) {
        ++tally.drop_offs[j][{v1::OTHER_STAGE, next.stage}];
      } else if (next.channel != t[reached].channel) {
        ++tally.drop_offs[j][{v1::OTHER_CHANNEL, next.channel}];
      } else {
        ++tally.drop_offs[j][{v1::SAME_CHANNEL, -1}];
      }
    }
  }
  for (uint32_t i = 0; i < end; ++i) {
    touched[t[i].stage] = 0;
    rated[t[i].stage] = 0;
  }
}

void SetConversion(const WindowConversion& c, v1::Conversion* out) {
  out->set_converted(c.converted);
  out->set_of(c.of);
  out->set_rate(c.rate);
  SetInterval(c.ci95, out->mutable_ci95());
  out->set_standard_error(c.standard_error);
  out->set_estimated(c.estimated);
}

// Most customers first, then by `name` of the key.
template <typename Key, typename Name>
std::vector<std::pair<Key, int64_t>> MostFirst(const std::map<Key, int64_t>& m,
                                               Name name) {
  std::vector<std::pair<Key, int64_t>> out(m.begin(), m.end());
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return name(a.first) < name(b.first);
  });
  return out;
}

std::string StageName(const v1::Journey& journey, const std::string& key) {
  for (const v1::Stage& stage : journey.stages()) {
    if (stage.key() == key) return stage.name();
  }
  return "";
}

// The stages of `tally` (and the step conversions, for the bottleneck).
std::vector<WindowConversion> FillStages(
    const FunnelNames& log, const FunnelSpec& spec, const v1::Journey& journey,
    Tally& tally,
    google::protobuf::RepeatedPtrField<v1::FunnelStage>* stages) {
  const size_t k = spec.steps.size();
  std::vector<WindowConversion> steps;
  const double window = Seconds(spec.window_micros);
  for (size_t j = 0; j + 1 < k; ++j) {
    steps.push_back(ConvertWithin(tally.follow[j], window));
  }
  bool estimated_so_far = false;
  for (size_t j = 0; j < k; ++j) {
    v1::FunnelStage* stage = stages->Add();
    const std::string& key = log.stages[spec.steps[j]];
    stage->set_stage(key);
    stage->set_name(StageName(journey, key));
    stage->set_reached(tally.reached[j]);
    v1::Conversion* first = stage->mutable_from_first();
    first->set_converted(tally.reached[j]);
    first->set_of(tally.reached[0]);
    if (j == 0) {
      first->set_rate(tally.reached[0] > 0 ? 1 : 0);
      first->mutable_ci95()->set_low(tally.reached[0] > 0 ? 1 : 0);
      first->mutable_ci95()->set_high(1);
    } else {
      SetConversion(steps[j - 1], stage->mutable_from_previous());
      estimated_so_far = estimated_so_far || steps[j - 1].estimated;
      if (!estimated_so_far) {
        const int64_t n = tally.reached[0];
        const double p = n > 0 ? static_cast<double>(tally.reached[j]) / n : 0;
        first->set_rate(p);
        first->set_standard_error(n > 0 ? std::sqrt(p * (1 - p) / n) : 0);
        SetInterval(n > 0 ? WilsonExact(tally.reached[j], n)
                          : stats::Interval{0, 1},
                    first->mutable_ci95());
      } else {
        const ProductConversion product = ChainConversions(
            std::vector<WindowConversion>(steps.begin(), steps.begin() + j));
        first->set_rate(product.rate);
        first->set_standard_error(product.standard_error);
        SetInterval(product.ci95, first->mutable_ci95());
        first->set_estimated(true);
      }
    }
    if (tally.reached[j] > 0) {
      stage->set_responded(tally.responded[j]);
      stage->set_response_rate(static_cast<double>(tally.responded[j]) /
                               tally.reached[j]);
      SetInterval(WilsonExact(tally.responded[j], tally.reached[j]),
                  stage->mutable_response_rate_ci95());
    }
    if (j + 1 == k) continue;
    stage->set_dropped(tally.dropped[j]);
    stage->set_in_progress(tally.in_progress[j]);
    std::vector<double>& times = tally.complete[j];
    if (!times.empty()) {
      std::sort(times.begin(), times.end());
      v1::StageTime* time = stage->mutable_time_to_next();
      time->set_customers(static_cast<int64_t>(times.size()));
      const QuantileEstimate median = Quantile(times, 1, 2);
      const QuantileEstimate p90 = Quantile(times, 9, 10);
      time->set_median_seconds(median.value);
      SetInterval(median.ci95, time->mutable_median_ci95_seconds());
      time->set_median_exact(median.exact);
      time->set_p90_seconds(p90.value);
      SetInterval(p90.ci95, time->mutable_p90_ci95_seconds());
      time->set_p90_exact(p90.exact);
    }
    for (const auto& [touchpoint, n] :
         MostFirst(tally.last_touchpoint[j],
                   [&](int32_t t) { return log.touchpoints[t]; })) {
      v1::LastTouchpoint* last = stage->add_last_touchpoints();
      last->set_touchpoint(log.touchpoints[touchpoint]);
      last->set_customers(n);
    }
    auto drop_name = [&](const std::pair<int, int32_t>& what) {
      const std::string* key = nullptr;
      if (what.first == v1::OTHER_STAGE) key = &log.stages[what.second];
      if (what.first == v1::OTHER_CHANNEL) key = &log.channels[what.second];
      return std::make_pair(what.first, key == nullptr ? std::string() : *key);
    };
    for (const auto& [what, n] : MostFirst(tally.drop_offs[j], drop_name)) {
      v1::DropOff* drop = stage->add_drop_offs();
      drop->set_kind(static_cast<v1::DropOffKind>(what.first));
      if (what.first == v1::OTHER_STAGE) drop->set_key(log.stages[what.second]);
      if (what.first == v1::OTHER_CHANNEL) {
        drop->set_key(log.channels[what.second]);
      }
      drop->set_customers(n);
    }
  }
  return steps;
}

void FillBottleneck(const FunnelNames& log, const FunnelSpec& spec,
                    const std::vector<WindowConversion>& steps,
                    v1::Funnel& funnel) {
  std::vector<size_t> order;
  for (size_t j = 0; j < steps.size(); ++j) {
    if (steps[j].of > 0) order.push_back(j);
  }
  if (order.size() < 2) return;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return steps[a].rate < steps[b].rate;  // largest drop first
  });
  const WindowConversion& top = steps[order[0]];
  const WindowConversion& next = steps[order[1]];
  v1::Bottleneck* b = funnel.mutable_bottleneck();
  b->set_from_stage(log.stages[spec.steps[order[0]]]);
  b->set_to_stage(log.stages[spec.steps[order[0] + 1]]);
  b->set_drop(1 - top.rate);
  b->mutable_drop_ci95()->set_low(1 - top.ci95.high);
  b->mutable_drop_ci95()->set_high(1 - top.ci95.low);
  b->set_runner_up_to_stage(log.stages[spec.steps[order[1] + 1]]);
  b->set_runner_up_drop(1 - next.rate);
  const double difference = next.rate - top.rate;
  const double se = std::sqrt(top.standard_error * top.standard_error +
                              next.standard_error * next.standard_error);
  double p = 1;
  if (se > 0) {
    p = 1 - stats::NormalCdf(difference / se);
  } else if (difference > 0) {
    p = 0;
  }
  b->set_p_value(p);
  b->set_significant(p < kAlpha);
}

void FillTest(const ChiSquareResult& r, v1::DifferenceTest* out) {
  out->set_chi_square(r.chi_square);
  out->set_degrees_of_freedom(r.degrees_of_freedom);
  out->set_p_value(r.p_value);
  out->set_differs(r.degrees_of_freedom > 0 && r.p_value < kAlpha);
  out->set_customers(r.total);
}

}  // namespace

absl::Status ResolveRange(const v1::TimeRange& range, absl::string_view field,
                          int64_t now, int64_t* start, int64_t* end) {
  if (!range.has_start()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".start: required"));
  }
  auto valid = [](const google::protobuf::Timestamp& t) {
    // 0001-01-01 to 9999-12-31, as google.protobuf.Timestamp allows.
    return t.seconds() >= -62'135'596'800 && t.seconds() <= 253'402'300'799 &&
           t.nanos() >= 0 && t.nanos() <= 999'999'999;
  };
  if (!valid(range.start())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".start: not a valid timestamp"));
  }
  if (range.has_end() && !valid(range.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".end: not a valid timestamp"));
  }
  *start = UnixMicros(range.start());
  *end = range.has_end() ? UnixMicros(range.end()) : now;
  if (*end <= *start) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".end: must be after ", field,
        ".start (an unset end is now)"));
  }
  return absl::OkStatus();
}

absl::Status CheckFunnelScope(const v1::Scope& scope) {
  if (!scope.stage().empty()) {
    return absl::InvalidArgumentError(
        "scope.stage: a funnel spans every stage; filter by channel or "
        "attributes instead");
  }
  if (!scope.touchpoint().empty() || !scope.touchpoints().empty()) {
    return absl::InvalidArgumentError(
        "scope.touchpoint: a funnel spans every touchpoint of its stages");
  }
  if (scope.has_range()) {
    return absl::InvalidArgumentError(
        "scope.range: the period is `range`; leave scope.range unset");
  }
  return absl::OkStatus();
}

absl::StatusOr<ScorecardQuery> PeriodQuery(const v1::Scope& scope,
                                           absl::string_view tenant,
                                           int64_t start, int64_t end) {
  v1::Scope period = scope;
  *period.mutable_range()->mutable_start() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(start);
  *period.mutable_range()->mutable_end() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(end);
  return ToScorecardQuery(period, tenant);
}

std::vector<FunnelOutcome> FunnelOutcomes(const FunnelSource& source,
                                          const FunnelSpec& spec) {
  std::vector<FunnelOutcome> out;
  const int k = static_cast<int>(spec.steps.size());
  ForEachPath(source, spec,
              [&](const std::vector<FunnelTouch>& touches, const Path& path) {
                FunnelOutcome outcome;
                outcome.level = path.level;
                outcome.group = touches[path.index[0]].group;
                outcome.known = path.level == k ||
                                spec.as_of - path.at[path.level - 1] >=
                                    spec.window_micros;
                out.push_back(outcome);
              });
  return out;
}

v1::Funnel EvaluateFunnel(const FunnelSource& source, const FunnelSpec& spec,
                          const v1::Journey& journey, bool by_group) {
  const FunnelNames& log = source.Names();
  v1::Funnel funnel;
  const size_t k = spec.steps.size();
  Tally all(k, spec.optional.size());
  std::vector<Tally> groups;
  if (by_group) groups.assign(log.groups.size(), Tally(k, spec.optional.size()));
  std::vector<char> rated(log.stages.size(), 0), touched(log.stages.size(), 0);
  ForEachPath(source, spec,
              [&](const std::vector<FunnelTouch>& touches, const Path& path) {
                Add(spec, touches, path, rated, touched, all);
                if (by_group) {
                  Add(spec, touches, path, rated, touched,
                      groups[touches[path.index[0]].group]);
                }
              });
  funnel.set_customers(all.customers);
  funnel.set_in_progress(all.in_progress_total);
  const std::vector<WindowConversion> steps =
      FillStages(log, spec, journey, all, funnel.mutable_stages());
  for (size_t o = 0; o < spec.optional.size(); ++o) {
    v1::OptionalStage* stage = funnel.add_optional_stages();
    const std::string& key = log.stages[spec.optional[o]];
    stage->set_stage(key);
    stage->set_name(StageName(journey, key));
    stage->set_customers(all.taken[o]);
    if (all.customers > 0) {
      stage->set_take_up(static_cast<double>(all.taken[o]) / all.customers);
      SetInterval(WilsonExact(all.taken[o], all.customers),
                  stage->mutable_take_up_ci95());
    }
  }
  FillBottleneck(log, spec, steps, funnel);
  if (!by_group) return funnel;
  // Groups by name order; the test over customers whose outcome is known.
  std::vector<size_t> order;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].customers > 0) order.push_back(g);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return log.groups[a] < log.groups[b]; });
  for (size_t g : order) {
    v1::FunnelGroup* group = funnel.add_groups();
    group->set_group(log.groups[g]);
    group->set_customers(groups[g].customers);
    FillStages(log, spec, journey, groups[g], group->mutable_stages());
  }
  std::vector<std::vector<int64_t>> table(log.groups.size(),
                                          std::vector<int64_t>(k, 0));
  for (const FunnelOutcome& outcome : FunnelOutcomes(source, spec)) {
    if (outcome.known) ++table[outcome.group][outcome.level - 1];
  }
  // Rows in group-name order, so that the sums do not depend on the order
  // groups were first seen in.
  std::vector<std::vector<int64_t>> rows;
  for (size_t g : order) rows.push_back(std::move(table[g]));
  FillTest(ChiSquareHomogeneity(rows), funnel.mutable_breakdown_test());
  return funnel;
}

absl::StatusOr<FunnelLog> ReadFunnelLog(LedgerReader& ledger,
                                        const ScorecardQuery& query,
                                        int64_t start, int64_t end,
                                        const v1::Journey& journey,
                                        GroupBy group_by,
                                        absl::string_view attribute) {
  FunnelLog log;
  absl::flat_hash_map<std::string, int32_t> stages, channels, touchpoints,
      groups;
  for (const v1::Stage& stage : journey.stages()) {
    stages.emplace(stage.key(), static_cast<int32_t>(log.names.stages.size()));
    log.names.stages.push_back(stage.key());
  }
  auto intern = [](absl::flat_hash_map<std::string, int32_t>& index,
                   std::vector<std::string>& names, const std::string& key) {
    auto [it, added] =
        index.emplace(key, static_cast<int32_t>(names.size()));
    if (added) names.push_back(key);
    return it->second;
  };
  absl::flat_hash_map<std::string, uint32_t> customers;
  std::vector<uint32_t> owner;
  std::vector<FunnelTouch> touches;
  POLKU_ASSIGN_OR_RETURN(
      log.as_of_sequence,
      ledger.ScanLedger(query, [&](const CountedEvent& event) -> absl::Status {
        if (event.customer_hash.empty()) return absl::OkStatus();
        if (event.occurred_at_micros < start || event.occurred_at_micros >= end) {
          return absl::OkStatus();
        }
        const auto& [tenant, journey_key, version, touchpoint, stage, channel,
                     day] = event.key;
        (void)tenant;
        (void)journey_key;
        (void)day;
        FunnelTouch touch;
        touch.at = event.occurred_at_micros;
        touch.sequence = event.sequence;
        touch.stage = intern(stages, log.names.stages, stage);
        touch.channel = intern(channels, log.names.channels, channel);
        touch.touchpoint = intern(touchpoints, log.names.touchpoints, touchpoint);
        touch.rated = event.csat || event.nps || event.ces;
        if (event.csat) touch.csat = static_cast<int8_t>(*event.csat);
        if (event.nps) touch.nps = static_cast<int8_t>(*event.nps);
        if (event.ces) touch.ces = static_cast<int8_t>(*event.ces);
        std::string group;
        switch (group_by) {
          case GroupBy::kNone:
            break;
          case GroupBy::kEntryChannel:
            group = channel;
            break;
          case GroupBy::kJourneyVersion:
            group = absl::StrCat(version);
            break;
          case GroupBy::kAttribute:
            for (const auto& [name, value] : event.attributes) {
              if (name == attribute) group = value;
            }
            break;
        }
        touch.group = intern(groups, log.names.groups, group);
        auto [it, added] = customers.emplace(
            event.customer_hash, static_cast<uint32_t>(customers.size()));
        (void)added;
        owner.push_back(it->second);
        touches.push_back(touch);
        return absl::OkStatus();
      }));
  // Counting sort by customer, keeping sequence order within each.
  log.offsets.assign(customers.size() + 1, 0);
  for (uint32_t c : owner) ++log.offsets[c + 1];
  for (size_t c = 0; c < customers.size(); ++c) {
    log.offsets[c + 1] += log.offsets[c];
  }
  log.touches.resize(touches.size());
  std::vector<uint32_t> fill(log.offsets.begin(), log.offsets.end() - 1);
  for (size_t i = 0; i < touches.size(); ++i) {
    log.touches[fill[owner[i]]++] = touches[i];
  }
  for (size_t c = 0; c < customers.size(); ++c) {
    std::stable_sort(log.touches.begin() + log.offsets[c],
                     log.touches.begin() + log.offsets[c + 1],
                     [](const FunnelTouch& a, const FunnelTouch& b) {
                       return std::tie(a.at, a.sequence) <
                              std::tie(b.at, b.sequence);
                     });
  }
  return log;
}

bool UsesIndex(const TouchIndex* index, const v1::Scope& scope,
               GroupBy group_by) {
  return index != nullptr && scope.attributes().empty() &&
         group_by != GroupBy::kAttribute;
}

FunnelSpec ForNames(const FunnelSpec& spec, const v1::Journey& journey,
                    const FunnelNames& names) {
  FunnelSpec out = spec;
  auto index_of = [&](int32_t position) {
    const std::string& key = journey.stages(position).key();
    return static_cast<int32_t>(
        std::find(names.stages.begin(), names.stages.end(), key) -
        names.stages.begin());
  };
  for (int32_t& s : out.steps) s = index_of(s);
  for (int32_t& s : out.optional) s = index_of(s);
  return out;
}

absl::StatusOr<v1::Funnel> ComputeFunnel(LedgerReader& ledger,
                                         absl::string_view tenant,
                                         const v1::GetFunnelRequest& request,
                                         const v1::Journey& journey,
                                         absl::Time now, TouchIndex* index) {
  const v1::Scope& scope = request.scope();
  POLKU_RETURN_IF_ERROR(CheckFunnelScope(scope));
  const int64_t now_micros = absl::ToUnixMicros(now);
  int64_t start = 0, end = 0;
  POLKU_RETURN_IF_ERROR(
      ResolveRange(request.range(), "range", now_micros, &start, &end));
  const int64_t window_seconds = request.conversion_window_seconds() == 0
                                     ? kDefaultWindowSeconds
                                     : request.conversion_window_seconds();
  if (window_seconds < 0 || window_seconds > kMaxWindowSeconds) {
    return absl::InvalidArgumentError(
        "conversion_window_seconds: must be between 1 and 31622400 (366 "
        "days); 0 = 30 days");
  }
  if (!v1::FunnelOrder_IsValid(request.order())) {
    return absl::InvalidArgumentError(
        "order: JOURNEY_ORDER or ANY_ORDER");
  }
  GroupBy group_by = GroupBy::kNone;
  switch (request.breakdown()) {
    case v1::FUNNEL_BREAKDOWN_UNSPECIFIED:
      break;
    case v1::ENTRY_CHANNEL:
      group_by = GroupBy::kEntryChannel;
      break;
    case v1::JOURNEY_VERSION:
      group_by = GroupBy::kJourneyVersion;
      break;
    case v1::ATTRIBUTE:
      group_by = GroupBy::kAttribute;
      if (request.breakdown_attribute().empty()) {
        return absl::InvalidArgumentError(
            "breakdown_attribute: required with breakdown ATTRIBUTE");
      }
      break;
    default:
      return absl::InvalidArgumentError(
          "breakdown: ENTRY_CHANNEL, ATTRIBUTE or JOURNEY_VERSION");
  }
  int64_t compare_start = 0, compare_end = 0;
  if (request.has_compare_range()) {
    POLKU_RETURN_IF_ERROR(ResolveRange(request.compare_range(),
                                       "compare_range", now_micros,
                                       &compare_start, &compare_end));
  }

  FunnelSpec spec;
  spec.any_order = request.order() == v1::ANY_ORDER;
  spec.window_micros = window_seconds * kMicrosPerSecond;
  for (int s = 0; s < journey.stages_size(); ++s) {
    (journey.stages(s).optional() ? spec.optional : spec.steps).push_back(s);
  }
  if (spec.steps.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "journey ", journey.key(), " has no stage that is not optional"));
  }

  auto one = [&](int64_t from, int64_t to, bool by_group)
      -> absl::StatusOr<v1::Funnel> {
    POLKU_ASSIGN_OR_RETURN(ScorecardQuery query,
                           PeriodQuery(scope, tenant, from, to));
    FunnelSpec period = spec;
    period.as_of = to;
    v1::Funnel funnel;
    if (UsesIndex(index, scope, group_by)) {
      POLKU_RETURN_IF_ERROR(UseTouchIndex(
          *index,
          std::string(tenant), journey,
          {.start = from, .end = to, .channel = scope.channel(),
           .journey_version = scope.journey_version(), .group_by = group_by},
          [&](const FunnelSource& source, int64_t as_of) {
            funnel = EvaluateFunnel(
                source, ForNames(period, journey, source.Names()), journey,
                by_group);
            funnel.set_as_of_sequence(as_of);
          }));
    } else {
      POLKU_ASSIGN_OR_RETURN(
          FunnelLog log,
          ReadFunnelLog(ledger, query, from, to, journey, group_by,
                        request.breakdown_attribute()));
      funnel = EvaluateFunnel(log, period, journey, by_group);
      funnel.set_as_of_sequence(log.as_of_sequence);
    }
    funnel.set_journey(journey.key());
    funnel.set_journey_version(journey.version());
    funnel.set_order(spec.any_order ? v1::ANY_ORDER : v1::JOURNEY_ORDER);
    funnel.set_conversion_window_seconds(window_seconds);
    funnel.set_breakdown(request.breakdown());
    *funnel.mutable_range()->mutable_start() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(from);
    *funnel.mutable_range()->mutable_end() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(to);
    *funnel.mutable_as_of() = funnel.range().end();
    return funnel;
  };
  POLKU_ASSIGN_OR_RETURN(v1::Funnel funnel,
                         one(start, end, group_by != GroupBy::kNone));
  if (!request.has_compare_range()) return funnel;
  POLKU_ASSIGN_OR_RETURN(v1::Funnel compared,
                         one(compare_start, compare_end, false));
  // The two periods as groups: furthest stage of customers with a known
  // outcome, from the stages' counts.
  std::vector<std::vector<int64_t>> table;
  for (const v1::Funnel* f : {&funnel, &compared}) {
    std::vector<int64_t> row;
    for (int j = 0; j < f->stages_size(); ++j) {
      const v1::FunnelStage& stage = f->stages(j);
      row.push_back(j + 1 == f->stages_size() ? stage.reached()
                                               : stage.dropped());
    }
    table.push_back(std::move(row));
  }
  FillTest(ChiSquareHomogeneity(table), funnel.mutable_period_test());
  *funnel.mutable_compared() = std::move(compared);
  return funnel;
}

}  // namespace polku::insight
