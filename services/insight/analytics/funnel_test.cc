#include "services/insight/analytics/funnel.h"

#include <unistd.h>

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <stdio.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/analytics/funnel_stats.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::kMarch1Seconds;

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kMicros = 1'000'000;

google::protobuf::Timestamp At(int64_t seconds_after_march1) {
  return google::protobuf::util::TimeUtil::SecondsToTimestamp(
      kMarch1Seconds + seconds_after_march1);
}

// ---------------------------------------------------------------------------
// Exactness: random small event logs, every number against funnel_reference.py

struct Case {
  std::string name;
  v1::Journey journey;
  std::vector<v1::StoredEvent> events;
  v1::GetFunnelRequest request;
};

const char* kStages[] = {"need", "compare", "buy", "use", "support"};
const char* kChannels[] = {"web", "shop", "phone"};

Case RandomCase(int seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int low, int high) {  // [low, high]
    return std::uniform_int_distribution<int>(low, high)(rng);
  };
  auto chance = [&](double p) {
    return std::bernoulli_distribution(p)(rng);
  };
  Case c;
  c.name = absl::StrCat("seed-", seed);
  c.journey.set_key("switching");
  c.journey.set_version(uniform(1, 3));
  const int stage_count = uniform(2, 5);
  bool any_required = false;
  for (int s = 0; s < stage_count; ++s) {
    v1::Stage* stage = c.journey.add_stages();
    stage->set_key(kStages[s]);
    stage->set_name(absl::StrCat("Stage ", kStages[s]));
    const bool optional =
        (s + 1 < stage_count || any_required) && chance(0.2);
    stage->set_optional(optional);
    any_required = any_required || !optional;
  }
  const int customers = uniform(3, 40);
  int64_t sequence = 0;
  // Times on a 6-hour grid so that ties happen; some before the range and
  // some after it.
  for (int customer = 0; customer < customers; ++customer) {
    const int64_t entry = uniform(-3 * 4, 18 * 4) * 6 * kHour;
    int stage = chance(0.8) ? 0 : uniform(0, stage_count - 1);
    const int touches = uniform(1, 8);
    const std::string campaign =
        chance(0.3) ? "" : (chance(0.5) ? "spring" : "autumn");
    for (int i = 0; i < touches; ++i) {
      v1::StoredEvent stored;
      stored.set_sequence(++sequence);
      stored.set_tenant("acme");
      stored.set_journey("switching");
      stored.set_journey_version(uniform(1, 2));
      const bool unknown_stage = chance(0.05);
      const std::string stage_key =
          unknown_stage ? "legacy" : kStages[stage];
      stored.set_stage(stage_key);
      const std::string channel = kChannels[uniform(0, 2)];
      stored.set_channel(channel);
      stored.set_customer_hash(chance(0.03) ? ""
                                            : absl::StrCat("c", customer));
      v1::TouchpointEvent* event = stored.mutable_event();
      event->set_event_id(absl::StrCat("e", sequence));
      event->set_touchpoint(absl::StrCat(stage_key, "_", channel));
      *event->mutable_occurred_at() =
          At(entry + uniform(0, 12 * 4) * 6 * kHour);
      if (chance(0.3)) event->set_csat(uniform(1, 5));
      if (chance(0.1)) event->set_nps(uniform(0, 10));
      if (!campaign.empty()) {
        (*event->mutable_attributes())["campaign"] = campaign;
      }
      c.events.push_back(stored);
      // Mostly onwards, sometimes back, sometimes a jump.
      const int step = uniform(0, 9);
      if (step < 5) {
        stage = std::min(stage + 1, stage_count - 1);
      } else if (step == 5) {
        stage = std::max(stage - 1, 0);
      } else if (step == 6) {
        stage = uniform(0, stage_count - 1);
      }
    }
  }
  v1::GetFunnelRequest& request = c.request;
  request.mutable_scope()->set_journey("switching");
  if (seed % 7 == 3) request.mutable_scope()->set_channel("web");
  *request.mutable_range()->mutable_start() = At(0);
  *request.mutable_range()->mutable_end() = At(15 * kDay);
  request.set_conversion_window_seconds(
      std::vector<int64_t>{kDay, 3 * kDay, 5 * kDay}[seed % 3]);
  request.set_order(seed % 2 == 0 ? v1::JOURNEY_ORDER : v1::ANY_ORDER);
  request.set_breakdown(static_cast<v1::FunnelBreakdown>(seed % 4));
  if (request.breakdown() == v1::ATTRIBUTE) {
    request.set_breakdown_attribute("campaign");
  }
  if (seed % 3 == 1) {
    *request.mutable_compare_range()->mutable_start() = At(5 * kDay);
    *request.mutable_compare_range()->mutable_end() = At(20 * kDay);
  }
  return c;
}

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::TimestampToMicroseconds(t);
}

// The case as funnel_reference.py reads it.
std::string CaseJson(const Case& c, int64_t as_of_sequence,
                     const std::string& extra = "") {
  std::vector<std::string> stages, events;
  for (const v1::Stage& stage : c.journey.stages()) {
    stages.push_back(absl::StrCat("{\"key\":\"", stage.key(), "\",\"name\":\"",
                                  stage.name(), "\",\"optional\":",
                                  stage.optional() ? "true" : "false", "}"));
  }
  for (const v1::StoredEvent& e : c.events) {
    std::vector<std::string> attrs;
    for (const auto& [k, v] : e.event().attributes()) {
      attrs.push_back(absl::StrCat("\"", k, "\":\"", v, "\""));
    }
    events.push_back(absl::StrCat(
        "{\"customer\":\"", e.customer_hash(), "\",\"at\":",
        MicrosOf(e.event().occurred_at()), ",\"seq\":", e.sequence(),
        ",\"stage\":\"", e.stage(), "\",\"channel\":\"", e.channel(),
        "\",\"touchpoint\":\"", e.event().touchpoint(), "\",\"rated\":",
        e.event().has_csat() || e.event().has_nps() || e.event().has_ces()
            ? "true"
            : "false",
        ",\"version\":", e.journey_version(),
        ",\"csat\":", e.event().has_csat() ? absl::StrCat(e.event().csat()) : "null",
        ",\"nps\":", e.event().has_nps() ? absl::StrCat(e.event().nps()) : "null",
        ",\"ces\":", e.event().has_ces() ? absl::StrCat(e.event().ces()) : "null",
        ",\"attrs\":{",
        absl::StrJoin(attrs, ","), "}}"));
  }
  const v1::GetFunnelRequest& r = c.request;
  const char* breakdowns[] = {"NONE", "ENTRY_CHANNEL", "ATTRIBUTE",
                              "JOURNEY_VERSION"};
  std::string compare = "null";
  if (r.has_compare_range()) {
    compare = absl::StrCat("[", MicrosOf(r.compare_range().start()), ",",
                           MicrosOf(r.compare_range().end()), "]");
  }
  return absl::StrCat(
      "{", extra, "\"case\":\"", c.name, "\",\"journey\":{\"key\":\"", c.journey.key(),
      "\",\"version\":", c.journey.version(), ",\"stages\":[",
      absl::StrJoin(stages, ","), "]},\"order\":\"",
      r.order() == v1::ANY_ORDER ? "ANY_ORDER" : "JOURNEY_ORDER",
      "\",\"window\":", r.conversion_window_seconds() * kMicros,
      ",\"range\":[", MicrosOf(r.range().start()), ",",
      MicrosOf(r.range().end()), "],\"compare\":", compare,
      ",\"breakdown\":\"", breakdowns[r.breakdown()], "\",\"attribute\":\"",
      r.breakdown_attribute(), "\",\"channel\":\"", r.scope().channel(),
      "\",\"as_of_sequence\":", as_of_sequence, ",\"events\":[",
      absl::StrJoin(events, ","), "]}\n");
}

// Runs the reference over `input`; its output, one JSON line per case.
std::vector<std::string> RunReference(const std::string& input) {
  // Each test is its own process under ctest, and several run at once.
  const std::string stem =
      absl::StrCat(::testing::TempDir(), "/funnel_", getpid(), "_");
  const std::string in_path = stem + "cases.jsonl";
  const std::string out_path = stem + "expected.jsonl";
  {
    std::ofstream out(in_path);
    out << input;
  }
  const std::string command = absl::StrCat("/usr/bin/python3 ", POLKU_FUNNEL_REFERENCE,
                                           " < ", in_path, " > ", out_path);
  EXPECT_EQ(system(command.c_str()), 0) << command;
  std::ifstream in(out_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The JSON line's "funnel" object as a message.
template <typename Message = v1::Funnel>
Message ParseExpected(const std::string& line, std::string* name) {
  // {"case": "seed-N", "funnel": {...}}
  const size_t at = line.find("\"funnel\": ");
  const size_t case_at = line.find("\"case\": \"") + 9;
  *name = line.substr(case_at, line.find('"', case_at) - case_at);
  Message funnel;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      line.substr(at + 10, line.size() - at - 11), &funnel);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << "\n" << line;
  return funnel;
}

std::string Differences(const google::protobuf::Message& expected,
                        const google::protobuf::Message& got) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_float_comparison(
      google::protobuf::util::DefaultFieldComparator::APPROXIMATE);
  comparator.SetDefaultFractionAndMargin(1e-9, 1e-9);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(expected, got);
  return report;
}

// Every field, doubles to the last bit.
std::string ExactDifferences(const google::protobuf::Message& expected,
                             const google::protobuf::Message& got) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(expected, got);
  return report;
}

TEST(FunnelExactness, EveryNumberOfEveryModeMatchesTheReference) {
  constexpr int kCases = 120;  // both orders, every breakdown, periods
  std::vector<Case> cases;
  std::vector<v1::Funnel> answers;
  std::string input;
  for (int seed = 0; seed < kCases; ++seed) {
    cases.push_back(RandomCase(seed));
    const Case& c = cases.back();
    FakeRollupStore store;
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (const v1::StoredEvent& e : c.events) *page.Add() = e;
    ASSERT_TRUE(store.Apply(page).ok());
    absl::StatusOr<v1::Funnel> funnel = ComputeFunnel(
        store, "acme", c.request, c.journey, absl::FromUnixSeconds(0));
    ASSERT_TRUE(funnel.ok()) << funnel.status();
    answers.push_back(*funnel);
    // The in-memory index answers the same, to the last bit.
    TouchIndex index(store, store);
    absl::StatusOr<v1::Funnel> indexed = ComputeFunnel(
        store, "acme", c.request, c.journey, absl::FromUnixSeconds(0), &index);
    ASSERT_TRUE(indexed.ok()) << indexed.status();
    EXPECT_EQ(ExactDifferences(*funnel, *indexed), "") << c.name;
    input += CaseJson(c, funnel->as_of_sequence());
  }
  const std::vector<std::string> expected = RunReference(input);
  ASSERT_EQ(expected.size(), cases.size());
  int with_in_progress = 0, with_bottleneck = 0, with_drop_offs = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string name;
    const v1::Funnel want = ParseExpected(expected[i], &name);
    ASSERT_EQ(name, cases[i].name);
    EXPECT_EQ(Differences(want, answers[i]), "")
        << name << "\nexpected " << want.ShortDebugString() << "\ngot      "
        << answers[i].ShortDebugString();
    with_in_progress += answers[i].in_progress() > 0;
    with_bottleneck += answers[i].has_bottleneck();
    for (const v1::FunnelStage& s : answers[i].stages()) {
      with_drop_offs += s.drop_offs_size() > 0;
    }
  }
  // The cases exercise what they are meant to.
  EXPECT_GT(with_in_progress, 20);
  EXPECT_GT(with_bottleneck, 20);
  EXPECT_GT(with_drop_offs, 20);
}

// Every number of GetPaths on the same random logs: paths, switching,
// switchers' satisfaction.
TEST(PathsExactness, EveryNumberMatchesTheReference) {
  constexpr int kCases = 80;
  std::vector<Case> cases;
  std::vector<v1::Paths> answers;
  std::string input;
  for (int seed = 0; seed < kCases; ++seed) {
    cases.push_back(RandomCase(500 + seed));
    const Case& c = cases.back();
    FakeRollupStore store;
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (const v1::StoredEvent& e : c.events) *page.Add() = e;
    ASSERT_TRUE(store.Apply(page).ok());
    v1::GetPathsRequest request;
    *request.mutable_scope() = c.request.scope();
    *request.mutable_range() = c.request.range();
    request.set_switch_within_seconds(
        std::vector<int64_t>{6 * kHour, kDay, 3 * kDay}[seed % 3]);
    request.set_top(seed % 2 == 0 ? 3 : 0);
    absl::StatusOr<v1::Paths> paths = ComputePaths(
        store, "acme", request, c.journey, absl::FromUnixSeconds(0));
    ASSERT_TRUE(paths.ok()) << paths.status();
    answers.push_back(*paths);
    TouchIndex index(store, store);
    absl::StatusOr<v1::Paths> indexed = ComputePaths(
        store, "acme", request, c.journey, absl::FromUnixSeconds(0), &index);
    ASSERT_TRUE(indexed.ok()) << indexed.status();
    EXPECT_EQ(ExactDifferences(*paths, *indexed), "") << c.name;
    input += CaseJson(
        c, paths->as_of_sequence(),
        absl::StrCat("\"kind\":\"paths\",\"within\":",
                     request.switch_within_seconds() * kMicros, ",\"top\":",
                     request.top() == 0 ? 10 : request.top(), ","));
  }
  const std::vector<std::string> expected = RunReference(input);
  ASSERT_EQ(expected.size(), cases.size());
  int with_switchers = 0, with_test = 0, with_nps_score_test = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string name;
    const v1::Paths want = ParseExpected<v1::Paths>(expected[i], &name);
    ASSERT_EQ(name, cases[i].name);
    EXPECT_EQ(Differences(want, answers[i]), "")
        << name << "\nexpected " << want.ShortDebugString() << "\ngot      "
        << answers[i].ShortDebugString();
    with_switchers += answers[i].switchers() > 0;
    for (const auto& s : answers[i].satisfaction()) {
      with_test += s.p_value() < 1;
      with_nps_score_test += s.metric() == "nps_score" && s.p_value() < 1;
    }
  }
  EXPECT_GT(with_switchers, 40);
  EXPECT_GT(with_test, 40);
  EXPECT_GE(with_nps_score_test, 5);
}

// ---------------------------------------------------------------------------
// Planted truths

// A log built directly: customer c's touches in time order.
class LogBuilder {
 public:
  explicit LogBuilder(std::vector<std::string> stages) {
    log_.names.stages = std::move(stages);
    log_.names.channels = {"web"};
    log_.names.touchpoints = {"tp"};
    log_.names.groups = {""};
  }
  void Customer(const std::vector<std::pair<int64_t, int32_t>>& touches,
                bool rated_first = false) {
    for (size_t i = 0; i < touches.size(); ++i) {
      FunnelTouch t;
      t.at = touches[i].first;
      t.sequence = static_cast<int64_t>(log_.touches.size()) + 1;
      t.stage = touches[i].second;
      t.rated = rated_first && i == 0;
      log_.touches.push_back(t);
    }
    log_.offsets.push_back(static_cast<uint32_t>(log_.touches.size()));
  }
  const FunnelLog& log() const { return log_; }

 private:
  FunnelLog log_;
};

v1::Journey TwoStages() {
  v1::Journey journey;
  journey.set_key("j");
  for (const char* key : {"visit", "buy"}) journey.add_stages()->set_key(key);
  return journey;
}

// Customers entering uniformly over 60 days, 60 % converting after an
// exponential time with mean 10 days, a 30-day window, analysed at day 60:
// the estimated 30-day conversion is 0.6·(1 − e⁻³) within ±0.03, although
// half the customers are still in progress.
TEST(FunnelPlanted, KaplanMeierRecoversConversionWithinTheWindow) {
  const double truth = 0.6 * (1 - std::exp(-3.0));
  int covered = 0;
  for (int seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(1000 + seed);
    std::uniform_real_distribution<double> entry(0, 60 * kDay);
    std::exponential_distribution<double> took(1.0 / (10 * kDay));
    std::bernoulli_distribution converts(0.6);
    LogBuilder builder({"visit", "buy"});
    const int64_t as_of = 60 * kDay * kMicros;
    for (int c = 0; c < 10000; ++c) {
      const int64_t at = static_cast<int64_t>(entry(rng) * kMicros);
      std::vector<std::pair<int64_t, int32_t>> touches = {{at, 0}};
      if (converts(rng)) {
        const int64_t buy = at + static_cast<int64_t>(took(rng) * kMicros);
        if (buy < as_of) touches.push_back({buy, 1});  // not seen yet
      }
      builder.Customer(touches);
    }
    FunnelSpec spec{.steps = {0, 1},
                    .window_micros = 30 * kDay * kMicros,
                    .as_of = as_of};
    const v1::Funnel funnel =
        EvaluateFunnel(builder.log(), spec, TwoStages(), false);
    const v1::Conversion& conversion = funnel.stages(1).from_previous();
    EXPECT_TRUE(conversion.estimated());
    EXPECT_NEAR(conversion.rate(), truth, 0.03) << "seed " << seed;
    EXPECT_GT(funnel.stages(0).in_progress(), 2000) << "seed " << seed;
    // The naive share (in progress counted as dropped) is far off.
    EXPECT_LT(static_cast<double>(conversion.converted()) / conversion.of(),
              truth - 0.05);
    covered += conversion.ci95().low() <= truth && truth <= conversion.ci95().high();
  }
  EXPECT_GE(covered, 45);
}

// Time between stages exponential with mean 2 days, everyone's window
// passed: the median's order-statistic interval covers the true median in
// at least 93 % of seeds.
TEST(FunnelPlanted, MedianTimeIntervalCoversTheTruth) {
  const double mean = 2.0 * kDay;
  const double window = 30.0 * kDay;
  // The median of the times of those who went on within the window.
  const double truth = -mean * std::log(1 - 0.5 * (1 - std::exp(-window / mean)));
  const double p90_truth =
      -mean * std::log(1 - 0.9 * (1 - std::exp(-window / mean)));
  int covered = 0, p90_covered = 0;
  constexpr int kSeeds = 200;
  for (int seed = 0; seed < kSeeds; ++seed) {
    std::mt19937_64 rng(5000 + seed);
    std::exponential_distribution<double> took(1 / mean);
    LogBuilder builder({"visit", "buy"});
    for (int c = 0; c < 300; ++c) {
      const int64_t at = c * kMicros;
      const int64_t buy = at + static_cast<int64_t>(took(rng) * kMicros);
      builder.Customer({{at, 0}, {buy, 1}});
    }
    FunnelSpec spec{.steps = {0, 1},
                    .window_micros = static_cast<int64_t>(window) * kMicros,
                    .as_of = 100 * kDay * kMicros};
    const v1::Funnel funnel =
        EvaluateFunnel(builder.log(), spec, TwoStages(), false);
    const v1::StageTime& time = funnel.stages(0).time_to_next();
    ASSERT_TRUE(time.median_exact());
    covered += time.median_ci95_seconds().low() <= truth &&
               truth <= time.median_ci95_seconds().high();
    p90_covered += time.p90_ci95_seconds().low() <= p90_truth &&
                   p90_truth <= time.p90_ci95_seconds().high();
  }
  EXPECT_GE(covered, kSeeds * 93 / 100);
  EXPECT_GE(p90_covered, kSeeds * 93 / 100);
}

// 1,000 customers reach a stage and 150 rate it: 1,000 reached with a 15 %
// response rate, never an 85 % drop.
TEST(FunnelPlanted, NonResponseIsNotDropOff) {
  LogBuilder builder({"visit", "buy"});
  for (int c = 0; c < 1000; ++c) {
    builder.Customer({{c * kMicros, 0}, {(c + 100) * kMicros, 1}},
                     /*rated_first=*/c < 150);
  }
  FunnelSpec spec{.steps = {0, 1},
                  .window_micros = 30 * kDay * kMicros,
                  .as_of = 100 * kDay * kMicros};
  const v1::Funnel funnel =
      EvaluateFunnel(builder.log(), spec, TwoStages(), false);
  EXPECT_EQ(funnel.stages(0).reached(), 1000);
  EXPECT_EQ(funnel.stages(0).responded(), 150);
  EXPECT_DOUBLE_EQ(funnel.stages(0).response_rate(), 0.15);
  EXPECT_EQ(funnel.stages(0).dropped(), 0);
  EXPECT_EQ(funnel.stages(1).reached(), 1000);
  EXPECT_DOUBLE_EQ(funnel.stages(1).from_previous().rate(), 1.0);
}

// A planted drop at one transition is the bottleneck, marked significant;
// two equal drops are not.
TEST(FunnelPlanted, BottleneckIsFoundAndMarkedOnlyWhenSignificant) {
  int found = 0;
  for (int seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(9000 + seed);
    // Conversion 0.8, 0.45 (planted), 0.7 through four stages.
    const double go_on[] = {0.8, 0.45, 0.7};
    LogBuilder builder({"a", "b", "c", "d"});
    for (int c = 0; c < 800; ++c) {
      std::vector<std::pair<int64_t, int32_t>> touches = {{c * kMicros, 0}};
      for (int s = 0; s < 3; ++s) {
        if (!std::bernoulli_distribution(go_on[s])(rng)) break;
        touches.push_back({touches.back().first + kHour * kMicros, s + 1});
      }
      builder.Customer(touches);
    }
    v1::Journey journey;
    for (const char* key : {"a", "b", "c", "d"}) journey.add_stages()->set_key(key);
    FunnelSpec spec{.steps = {0, 1, 2, 3},
                    .window_micros = kDay * kMicros,
                    .as_of = 100 * kDay * kMicros};
    const v1::Funnel funnel = EvaluateFunnel(builder.log(), spec, journey, false);
    found += funnel.bottleneck().from_stage() == "b" &&
             funnel.bottleneck().to_stage() == "c" &&
             funnel.bottleneck().significant();
  }
  EXPECT_GE(found, 49);

  LogBuilder equal({"a", "b", "c"});
  for (int c = 0; c < 400; ++c) {
    // Exactly half go on at each step.
    std::vector<std::pair<int64_t, int32_t>> touches = {{c * kMicros, 0}};
    if (c % 2 == 0) touches.push_back({(c + 1) * kMicros, 1});
    if (c % 4 == 0) touches.push_back({(c + 2) * kMicros, 2});
    equal.Customer(touches);
  }
  v1::Journey three;
  for (const char* key : {"a", "b", "c"}) three.add_stages()->set_key(key);
  const v1::Funnel funnel = EvaluateFunnel(
      equal.log(),
      {.steps = {0, 1, 2}, .window_micros = kDay * kMicros,
       .as_of = 100 * kDay * kMicros},
      three, false);
  ASSERT_TRUE(funnel.has_bottleneck());
  EXPECT_FALSE(funnel.bottleneck().significant());
}

// ---------------------------------------------------------------------------
// Bad requests name the field.

TEST(FunnelRequest, BadInputNamesTheField) {
  FakeRollupStore store;
  v1::Journey journey = TwoStages();
  auto error = [&](const v1::GetFunnelRequest& request) {
    absl::StatusOr<v1::Funnel> got =
        ComputeFunnel(store, "acme", request, journey, absl::Now());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(got.status().message());
  };
  v1::GetFunnelRequest good;
  good.mutable_scope()->set_journey("j");
  *good.mutable_range()->mutable_start() = At(0);
  ASSERT_TRUE(ComputeFunnel(store, "acme", good, journey, absl::Now()).ok());

  v1::GetFunnelRequest r = good;
  r.mutable_scope()->clear_journey();
  EXPECT_EQ(error(r).rfind("scope.journey", 0), 0u);
  r = good;
  r.clear_range();
  EXPECT_EQ(error(r).rfind("range.start", 0), 0u);
  r = good;
  *r.mutable_range()->mutable_end() = At(-kDay);
  EXPECT_EQ(error(r).rfind("range.end", 0), 0u);
  r = good;
  r.mutable_scope()->set_stage("buy");
  EXPECT_EQ(error(r).rfind("scope.stage", 0), 0u);
  r = good;
  *r.mutable_scope()->mutable_range()->mutable_start() = At(0);
  EXPECT_EQ(error(r).rfind("scope.range", 0), 0u);
  r = good;
  r.set_conversion_window_seconds(-1);
  EXPECT_EQ(error(r).rfind("conversion_window_seconds", 0), 0u);
  r = good;
  r.set_breakdown(v1::ATTRIBUTE);
  EXPECT_EQ(error(r).rfind("breakdown_attribute", 0), 0u);
  r = good;
  *r.mutable_compare_range()->mutable_end() = At(kDay);
  EXPECT_EQ(error(r).rfind("compare_range.start", 0), 0u);

  v1::Journey all_optional = journey;
  for (v1::Stage& stage : *all_optional.mutable_stages()) stage.set_optional(true);
  EXPECT_EQ(ComputeFunnel(store, "acme", good, all_optional, absl::Now())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---------------------------------------------------------------------------
// Statistics helpers on textbook values.

TEST(FunnelStats, ChiSquareSurvivalMatchesKnownValues) {
  // χ²(1) > 3.841 has p 0.05; χ²(4) > 9.488 has p 0.05.
  EXPECT_NEAR(ChiSquareSurvival(3.841458820694124, 1), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(9.487729036781154, 4), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(100, 3) / 1.5541594313896026e-21, 1, 1e-9);
}

}  // namespace
}  // namespace polku::insight
