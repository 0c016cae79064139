// Planted truth for key drivers: polku-sim's generator (tools/simulator)
// plants drivers with known weights into a journey of ten interaction
// touchpoints in four stages (alternatives in a stage, customers rating a
// few of them, ratings correlated through each customer's disposition), its
// events are counted as polku-insight counts them, and GetKeyDrivers'
// computation must
//   * rank the planted top driver first in at least 95 % of 50 seeds, and
//   * give 95 % intervals that cover the importance computed on a very large
//     sample of the same simulator in at least 90 % of cases.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "services/insight/analytics/key_drivers.h"
#include "services/insight/store/rollup_test_util.h"
#include "tests/harness/sanitizer.h"
#include "tools/simulator/simulator.h"

namespace polku {
namespace {

constexpr char kTop[] = "advice_call";

v1::Journey PlantedJourney() {
  v1::Journey journey;
  journey.set_key("planted-drivers");
  journey.set_version(1);
  for (const char* stage : {"explore", "choose", "buy", "use"}) {
    v1::Stage* s = journey.add_stages();
    s->set_key(stage);
    s->set_name(stage);
  }
  const auto add = [&](const char* key, const char* stage, const char* channel,
                       v1::TouchpointKind kind = v1::INTERACTION) {
    v1::Touchpoint* t = journey.add_touchpoints();
    t->set_key(key);
    t->set_name(key);
    t->set_stage(stage);
    t->set_channel(channel);
    t->set_kind(kind);
  };
  add("search_ad", "explore", "web");
  add("shop_window", "explore", "shop");
  add("advice_call", "explore", "phone");
  add("web_compare", "choose", "web");
  add("shop_demo", "choose", "shop");
  add("offer_email", "choose", "email");
  add("web_order", "buy", "web");
  add("shop_order", "buy", "shop");
  add("delivery_sms", "use", "mobile");
  add("support_chat", "use", "chat");
  add("relationship", "use", "email", v1::OUTCOME);
  journey.mutable_outcomes()->set_relationship_nps_touchpoint("relationship");
  return journey;
}

sim::Options Options(uint64_t seed, int customers) {
  sim::Options options;
  options.seed = seed;
  options.customers = customers;
  options.first_day = absl::CivilDay(2025, 3, 1);
  options.days = 28;
  options.channels = {"web", "shop", "phone", "email", "mobile", "chat"};
  // Middling quality everywhere, so ratings spread over the scale.
  const v1::Journey journey = PlantedJourney();
  for (const v1::Touchpoint& t : journey.touchpoints()) options.quality[t.key()] = 0.1;
  options.planted.drivers = {{kTop, 1.0}, {"web_order", 0.6}, {"offer_email", 0.35},
                             {"delivery_sms", 0.2}};
  return options;
}

// The simulation counted by an in-memory polku-insight store.
void Count(const sim::Simulation& simulation, const v1::Journey& journey,
           insight::testing::FakeRollupStore& store) {
  std::map<std::string, std::string> stage_of;
  for (const v1::Touchpoint& t : journey.touchpoints()) stage_of[t.key()] = t.stage();
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  int64_t sequence = 0;
  for (const auto& [channel, events] : simulation.events) {
    for (const v1::TouchpointEvent& event : events) {
      v1::StoredEvent* stored = page.Add();
      stored->set_sequence(++sequence);
      stored->set_tenant("acme");
      stored->set_channel(channel);
      stored->set_journey(journey.key());
      stored->set_journey_version(1);
      stored->set_stage(stage_of[event.touchpoint()]);
      stored->set_customer_hash(event.customer());
      *stored->mutable_event() = event;
    }
  }
  ASSERT_TRUE(store.Apply(page).ok());
}

v1::KeyDrivers Drivers(uint64_t seed, int customers, int replicates) {
  const v1::Journey journey = PlantedJourney();
  absl::StatusOr<sim::Simulation> simulation =
      sim::Simulate({journey}, Options(seed, customers));
  EXPECT_TRUE(simulation.ok()) << simulation.status();
  insight::testing::FakeRollupStore store;
  Count(*simulation, journey, store);
  v1::GetKeyDriversRequest request;
  request.mutable_scope()->set_journey(journey.key());
  request.set_bootstrap_replicates(replicates);
  request.set_seed(seed);
  absl::StatusOr<v1::KeyDrivers> answer =
      insight::ComputeKeyDrivers(store, "acme", request, journey);
  EXPECT_TRUE(answer.ok()) << answer.status();
  return answer.ok() ? *answer : v1::KeyDrivers();
}

// Under AddressSanitizer the simulation of 250 000 customers takes over ten
// minutes; the statistics are the release build's to check, the memory
// safety of the same code is KeyDriversTest's under the sanitizer.
TEST(PlantedDriversTest, TheTopDriverRanksFirstAndIntervalsCoverTheTruth) {
  if (testing::kSanitized) {
    GTEST_SKIP() << "release-only (statistics over 50 seeds; too slow under ASan)";
  }
  // The truth: the same simulator with very many customers.
  const v1::KeyDrivers truth = Drivers(1'000'000, 100'000, 1);
  std::map<std::string, double> true_importance;
  for (const v1::Driver& d : truth.drivers()) {
    ASSERT_EQ(d.status(), v1::DRIVER_OK) << d.key();
    true_importance[d.key()] = d.importance();
  }
  ASSERT_EQ(truth.drivers(0).key(), kTop) << truth.DebugString();
  ASSERT_EQ(true_importance.size(), 10u);

  int first = 0, covered = 0, cases = 0;
  const int seeds = 50;
  for (int seed = 1; seed <= seeds; ++seed) {
    const v1::KeyDrivers answer = Drivers(seed, 3000, 200);
    ASSERT_GT(answer.drivers_size(), 0);
    // Customers rate a few of the ten (two to four on average, before their
    // outcome answer): hardly anybody rates them all.
    EXPECT_LT(answer.model().complete_cases(), answer.model().customers() / 20);
    int64_t rated = 0;
    for (const v1::Driver& d : answer.drivers()) rated += d.raters();
    const double per_customer = static_cast<double>(rated) / answer.model().customers();
    EXPECT_GE(per_customer, 2.0) << "seed " << seed;
    EXPECT_LE(per_customer, 4.0) << "seed " << seed;
    if (seed == 1) printf("touchpoints rated per customer (seed 1): %.2f\n", per_customer);
    if (answer.drivers(0).key() == kTop) ++first;
    for (const v1::Driver& d : answer.drivers()) {
      if (d.status() != v1::DRIVER_OK) continue;
      ++cases;
      const double t = true_importance.at(d.key());
      if (d.importance_ci95().low() <= t && t <= d.importance_ci95().high()) ++covered;
    }
  }
  EXPECT_GE(first, 0.95 * seeds) << first << " of " << seeds;
  EXPECT_GE(covered, 0.90 * cases) << covered << " of " << cases;
  RecordProperty("top_first", first);
  RecordProperty("covered", covered);
  RecordProperty("cases", cases);
  printf("planted top driver first in %d of %d seeds; intervals covered %d of %d\n",
         first, seeds, covered, cases);
}

}  // namespace
}  // namespace polku
