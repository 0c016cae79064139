// Planted funnel truths, over many seeds: polku-sim plants a bottleneck (the
// share going on into one stage) and a time between two stages, and the
// funnel computed from the simulated events (through the in-memory ledger)
// must find that bottleneck, marked significant, and cover the planted
// median time with its interval.
#include <cmath>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/store/memory_rollup_store.h"
#include "tools/simulator/simulator.h"

namespace polku::sim {
namespace {

constexpr char kShop[] = R"({
  "key": "shop", "name": "Buying a phone", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "visit"}, {"key": "compare"}, {"key": "buy"}, {"key": "use"},
             {"key": "support", "optional": true}],
  "touchpoints": [
    {"key": "web_home", "stage": "visit", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_window", "stage": "visit", "channel": "shop", "kind": "INTERACTION"},
    {"key": "web_compare", "stage": "compare", "channel": "web", "kind": "INTERACTION"},
    {"key": "sales_call", "stage": "compare", "channel": "phone", "kind": "INTERACTION"},
    {"key": "web_checkout", "stage": "buy", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_counter", "stage": "buy", "channel": "shop", "kind": "INTERACTION"},
    {"key": "welcome_email", "stage": "use", "channel": "email", "kind": "INTERACTION"},
    {"key": "help_line", "stage": "support", "channel": "phone", "kind": "INTERACTION"}
  ]})";

constexpr double kCarryOnIntoBuy = 0.35;
constexpr double kCompareHours = 20;

v1::Journey Shop() {
  v1::Journey journey;
  auto status = google::protobuf::util::JsonStringToMessage(kShop, &journey);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return journey;
}

// The simulation as polku-feedback would publish it: stage and channel from
// the map, the customer reference as its hash, sequences in order.
void Feed(const Simulation& sim, const v1::Journey& journey,
          insight::MemoryRollupStore& store) {
  std::map<std::string, const v1::Touchpoint*> touchpoints;
  for (const v1::Touchpoint& t : journey.touchpoints()) touchpoints[t.key()] = &t;
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  int64_t sequence = 0;
  for (const auto& [channel, events] : sim.events) {
    for (const v1::TouchpointEvent& event : events) {
      v1::StoredEvent* stored = page.Add();
      stored->set_sequence(++sequence);
      stored->set_tenant("acme");
      stored->set_channel(channel);
      stored->set_journey(journey.key());
      stored->set_journey_version(1);
      stored->set_stage(touchpoints.at(event.touchpoint())->stage());
      stored->set_customer_hash(event.customer());
      *stored->mutable_event() = event;
    }
  }
  ASSERT_TRUE(store.Apply(page).ok());
}

TEST(FunnelPlantedTruths, TheBottleneckAndTheStageTimeAreFound) {
  const v1::Journey journey = Shop();
  const double median_truth = kCompareHours * 3600 * std::log(2.0);
  constexpr int kSeeds = 50;
  int found = 0, covered = 0, near = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    Options options;
    options.seed = static_cast<uint64_t>(seed);
    options.customers = 600;
    options.first_day = absl::CivilDay(2025, 3, 1);
    options.days = 28;
    options.channels = {"web", "shop", "phone", "email"};
    ASSERT_TRUE(ParseDropOff("shop/buy:0.35", options.planted).ok());
    ASSERT_TRUE(ParseStageTime("shop/compare:20", options.planted).ok());
    absl::StatusOr<Simulation> sim = Simulate({journey}, options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    insight::MemoryRollupStore store;
    Feed(*sim, journey, store);

    v1::GetFunnelRequest request;
    request.mutable_scope()->set_journey("shop");
    request.mutable_range()->mutable_start()->set_seconds(
        absl::ToUnixSeconds(absl::FromCivil(options.first_day, absl::UTCTimeZone())));
    request.mutable_range()->mutable_end()->set_seconds(
        absl::ToUnixSeconds(absl::FromCivil(options.first_day + 90, absl::UTCTimeZone())));
    absl::StatusOr<v1::Funnel> funnel =
        insight::ComputeFunnel(store, "acme", request, journey, absl::Now());
    ASSERT_TRUE(funnel.ok()) << funnel.status();
    ASSERT_EQ(funnel->stages_size(), 4);  // support is optional
    EXPECT_EQ(funnel->in_progress(), 0);
    const v1::Bottleneck& b = funnel->bottleneck();
    found += b.from_stage() == "compare" && b.to_stage() == "buy" && b.significant();
    const v1::Conversion& into_buy = funnel->stages(2).from_previous();
    near += std::abs(into_buy.rate() - kCarryOnIntoBuy) < 0.08;
    const v1::StageTime& time = funnel->stages(0).time_to_next();
    covered += time.median_ci95_seconds().low() <= median_truth &&
               median_truth <= time.median_ci95_seconds().high();
  }
  EXPECT_GE(found, kSeeds - 1);
  EXPECT_GE(near, kSeeds - 1);
  EXPECT_GE(covered, kSeeds * 93 / 100);
}

// Without a plant the compare → buy transition is nothing special.
TEST(FunnelPlantedTruths, NoPlantNoSuchBottleneck) {
  const v1::Journey journey = Shop();
  int marked = 0;
  for (int seed = 1; seed <= 10; ++seed) {
    Options options;
    options.seed = static_cast<uint64_t>(seed);
    options.customers = 600;
    options.first_day = absl::CivilDay(2025, 3, 1);
    options.days = 28;
    options.channels = {"web", "shop", "phone", "email"};
    absl::StatusOr<Simulation> sim = Simulate({journey}, options);
    ASSERT_TRUE(sim.ok());
    insight::MemoryRollupStore store;
    Feed(*sim, journey, store);
    v1::GetFunnelRequest request;
    request.mutable_scope()->set_journey("shop");
    request.mutable_range()->mutable_start()->set_seconds(
        absl::ToUnixSeconds(absl::FromCivil(options.first_day, absl::UTCTimeZone())));
    absl::StatusOr<v1::Funnel> funnel =
        insight::ComputeFunnel(store, "acme", request, journey, absl::Now());
    ASSERT_TRUE(funnel.ok());
    marked += funnel->bottleneck().to_stage() == "buy" &&
              funnel->bottleneck().significant();
  }
  EXPECT_LE(marked, 2);
}

// No web touch is followed by a phone touch in the natural walk (phone is
// only in support, after the e-mail): the planted switch alone makes them.
constexpr char kSwitch[] = R"({
  "key": "switch", "name": "Switching channel", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "visit"}, {"key": "buy"}, {"key": "use"}, {"key": "support"}],
  "touchpoints": [
    {"key": "web_home", "stage": "visit", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_window", "stage": "visit", "channel": "shop", "kind": "INTERACTION"},
    {"key": "shop_counter", "stage": "buy", "channel": "shop", "kind": "INTERACTION"},
    {"key": "web_checkout", "stage": "buy", "channel": "web", "kind": "INTERACTION"},
    {"key": "welcome_email", "stage": "use", "channel": "email", "kind": "INTERACTION"},
    {"key": "help_line", "stage": "support", "channel": "phone", "kind": "INTERACTION"}
  ]})";

// A planted 20 % web-to-phone switch within 7 days is recovered within
// ±0.02 in every seed, and no switch is found where none was planted.
TEST(FunnelPlantedTruths, TheSwitchingShareIsRecovered) {
  v1::Journey journey;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(kSwitch, &journey).ok());
  int recovered = 0;
  for (int seed = 1; seed <= 50; ++seed) {
    Options options;
    options.seed = static_cast<uint64_t>(seed);
    options.customers = 8000;
    options.first_day = absl::CivilDay(2025, 3, 1);
    options.days = 28;
    options.channels = {"web", "shop", "phone", "email"};
    ASSERT_TRUE(ParseSwitch("web:phone:0.2:168", options.planted).ok());
    absl::StatusOr<Simulation> sim = Simulate({journey}, options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    insight::MemoryRollupStore store;
    Feed(*sim, journey, store);
    v1::GetPathsRequest request;
    request.mutable_scope()->set_journey("switch");
    request.mutable_range()->mutable_start()->set_seconds(
        absl::ToUnixSeconds(absl::FromCivil(options.first_day, absl::UTCTimeZone())));
    request.set_switch_within_seconds(7 * 86'400);
    absl::StatusOr<v1::Paths> paths =
        insight::ComputePaths(store, "acme", request, journey, absl::Now());
    ASSERT_TRUE(paths.ok()) << paths.status();
    double share = -1;
    for (const v1::SwitchCell& cell : paths->switching()) {
      if (cell.from() == "web" && cell.to() == "phone") share = cell.share();
    }
    recovered += std::abs(share - 0.2) <= 0.02;
    if (seed == 1) {
      EXPECT_GT(paths->switchers(), 0);
      EXPECT_GE(paths->channel_paths_size(), 3);
    }
  }
  EXPECT_EQ(recovered, 50);

  // Unplanted: no web → phone at all.
  Options options;
  options.customers = 2000;
  options.channels = {"web", "shop", "phone", "email"};
  absl::StatusOr<Simulation> sim = Simulate({journey}, options);
  ASSERT_TRUE(sim.ok());
  insight::MemoryRollupStore store;
  Feed(*sim, journey, store);
  v1::GetPathsRequest request;
  request.mutable_scope()->set_journey("switch");
  request.mutable_range()->mutable_start()->set_seconds(0);
  absl::StatusOr<v1::Paths> paths =
      insight::ComputePaths(store, "acme", request, journey, absl::Now());
  ASSERT_TRUE(paths.ok());
  for (const v1::SwitchCell& cell : paths->switching()) {
    EXPECT_FALSE(cell.from() == "web" && cell.to() == "phone");
  }
}

TEST(FunnelPlantedTruths, BadPlantsNameTheProblem) {
  PlantedTruths truths;
  EXPECT_FALSE(ParseDropOff("shop/buy:1.5", truths).ok());
  EXPECT_FALSE(ParseDropOff("shop:0.5", truths).ok());
  EXPECT_FALSE(ParseStageTime("shop/compare:-1", truths).ok());
  EXPECT_FALSE(ParseSwitch("web:web:0.2:168", truths).ok());
  EXPECT_FALSE(ParseSwitch("web:phone:1.2:168", truths).ok());
  ASSERT_TRUE(ParseDropOff("shop/visit:0.5", truths).ok());
  // The first stage has no stage before it.
  EXPECT_EQ(CheckAgainst(truths, {Shop()}).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polku::sim
