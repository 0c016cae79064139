#include "services/insight/analytics/journey_map.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/analytics/consistency.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::kMarch1Seconds;
using testing::MakeEvent;

constexpr int64_t kDay = 24 * 3600;

// research: web_site (web, CSAT target 0.7), app_home (app, no data);
// purchase: shop_visit (shop), order_call (phone, renamed from sales_call).
v1::Journey Switching() {
  v1::Journey journey;
  journey.set_key("switching");
  journey.set_name("Switching operator");
  journey.set_version(2);
  for (const char* stage : {"research", "purchase"}) {
    v1::Stage* s = journey.add_stages();
    s->set_key(stage);
    s->set_name(std::string("Stage ") + stage);
  }
  const auto add = [&](const char* key, const char* stage,
                       const char* channel) {
    v1::Touchpoint* t = journey.add_touchpoints();
    t->set_key(key);
    t->set_name(std::string("TP ") + key);
    t->set_stage(stage);
    t->set_channel(channel);
    return t;
  };
  // Listed out of stage order: the map orders by stage.
  add("shop_visit", "purchase", "shop");
  add("web_site", "research", "web")->mutable_target()->set_csat_top2_box(0.7);
  add("app_home", "research", "app");
  v1::Touchpoint* call = add("order_call", "purchase", "phone");
  call->add_former_keys("sales_call");
  call->mutable_target()->set_nps(50);
  return journey;
}

class JourneyMapTest : public ::testing::Test {
 protected:
  // `count` answers per day on days [first, last) after 2024-03-01.
  void Add(const std::string& touchpoint, const std::string& stage,
           const std::string& channel, int first, int last, int count,
           std::optional<int> csat, std::optional<int> nps = std::nullopt) {
    for (int day = first; day < last; ++day) {
      for (int i = 0; i < count; ++i) {
        store_.Add(MakeEvent({.sequence = ++sequence_,
                              .touchpoint = touchpoint,
                              .stage = stage,
                              .channel = channel,
                              .offset_seconds = day * kDay + 60,
                              .csat = csat,
                              .nps = nps}));
      }
    }
  }

  v1::GetJourneyMapRequest Request() {
    v1::GetJourneyMapRequest request;
    request.set_journey("switching");
    request.mutable_range()->mutable_start()->set_seconds(kMarch1Seconds);
    request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds +
                                                        28 * kDay);
    return request;
  }

  FakeRollupStore store_;
  int64_t sequence_ = 0;
};

TEST_F(JourneyMapTest, DrawsStagesChannelsAndTouchpointsWithTheirNumbers) {
  // web_site: 5s in the first half, 2s in the second → 50 %, going down.
  Add("web_site", "research", "web", 0, 14, 5, 5);
  Add("web_site", "research", "web", 14, 28, 5, 2);
  // shop_visit: steady 4s, no target → headline CSAT, meets nothing.
  Add("shop_visit", "purchase", "shop", 0, 28, 3, 4);
  // order_call: NPS answers, most under its former key.
  Add("sales_call", "purchase", "phone", 0, 20, 1, std::nullopt, 10);
  Add("order_call", "purchase", "phone", 20, 28, 1, std::nullopt, 10);
  v1::Alert alert;
  alert.set_id("switching/touchpoint/web_site/csat_top2_box");
  alert.set_journey("switching");
  alert.set_scope(v1::GROUP_BY_TOUCHPOINT);
  alert.set_key("web_site");
  alert.set_state(v1::OPEN);
  ASSERT_TRUE(store_.SaveAlerts("acme", {alert}).ok());

  const v1::Journey journey = Switching();
  absl::StatusOr<v1::JourneyMap> map = ComputeJourneyMap(
      store_, "acme", Request(), journey, journey,
      absl::FromUnixSeconds(kMarch1Seconds + 40 * kDay), {});
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->journey(), "switching");
  EXPECT_EQ(map->name(), "Switching operator");
  EXPECT_EQ(map->journey_version(), 2);
  ASSERT_EQ(map->stages_size(), 2);
  EXPECT_EQ(map->stages(0).key(), "research");
  EXPECT_EQ(map->stages(1).name(), "Stage purchase");
  // First use: research (web, app), then purchase (shop, phone).
  EXPECT_THAT(map->channels(),
              ::testing::ElementsAre("web", "app", "shop", "phone"));
  ASSERT_EQ(map->cells_size(), 4);
  EXPECT_EQ(map->cells(0).stage(), "research");
  EXPECT_EQ(map->cells(0).channel(), "web");
  EXPECT_EQ(map->cells(3).channel(), "phone");
  EXPECT_EQ(map->as_of_sequence(), sequence_);

  const v1::MapTouchpoint& web = map->cells(0).touchpoints(0);
  EXPECT_EQ(web.key(), "web_site");
  EXPECT_EQ(web.headline_metric(), v1::CSAT_TOP2_BOX);
  EXPECT_EQ(web.n(), 140);
  EXPECT_DOUBLE_EQ(web.value(), 0.5);
  EXPECT_DOUBLE_EQ(web.target(), 0.7);
  EXPECT_EQ(web.target_status(), v1::BELOW_TARGET);  // Wilson high < 0.7
  EXPECT_EQ(web.trend(), v1::TREND_DOWN);
  EXPECT_EQ(web.events(), 140);
  ASSERT_EQ(web.open_alerts_size(), 1);
  EXPECT_EQ(web.open_alerts(0).id(), alert.id());

  const v1::MapTouchpoint& app = map->cells(1).touchpoints(0);
  EXPECT_EQ(app.n(), 0);
  EXPECT_FALSE(app.has_value());
  EXPECT_EQ(app.target_status(), v1::NO_TARGET);
  EXPECT_EQ(app.trend(), v1::TREND_UNKNOWN);

  const v1::MapTouchpoint& shop = map->cells(2).touchpoints(0);
  EXPECT_EQ(shop.headline_metric(), v1::CSAT_TOP2_BOX);
  EXPECT_DOUBLE_EQ(shop.value(), 1.0);
  EXPECT_EQ(shop.trend(), v1::TREND_FLAT);
  EXPECT_FALSE(shop.has_target());

  // Renamed: both keys count, under the current one.
  const v1::MapTouchpoint& call = map->cells(3).touchpoints(0);
  EXPECT_EQ(call.headline_metric(), v1::NPS);
  EXPECT_EQ(call.n(), 28);
  EXPECT_DOUBLE_EQ(call.value(), 100);
  EXPECT_EQ(call.target_status(), v1::MEETS_TARGET);
  EXPECT_EQ(call.trend(), v1::TREND_UNKNOWN);  // 14 answers per half < 30
}

TEST_F(JourneyMapTest, ArrowsAreOneFamilyOfTests) {
  // web_site: 70 % top-2 in the first half, 50 % in the second (100 answers
  // each, p ≈ 0.004): a fall on its own, but not once three touchpoints are
  // tested together (Holm: 3 × 0.004 > 0.01).
  Add("web_site", "research", "web", 0, 10, 7, 5);
  Add("web_site", "research", "web", 0, 10, 3, 2);
  Add("web_site", "research", "web", 14, 24, 5, 5);
  Add("web_site", "research", "web", 14, 24, 5, 2);
  Add("shop_visit", "purchase", "shop", 0, 28, 3, 4);
  Add("app_home", "research", "app", 0, 28, 3, 4);
  const v1::Journey journey = Switching();
  absl::StatusOr<v1::JourneyMap> map = ComputeJourneyMap(
      store_, "acme", Request(), journey, journey,
      absl::FromUnixSeconds(kMarch1Seconds + 40 * kDay), {});
  ASSERT_TRUE(map.ok()) << map.status();
  const v1::MapTouchpoint& web = map->cells(0).touchpoints(0);
  ASSERT_EQ(web.key(), "web_site");
  EXPECT_EQ(web.trend(), v1::TREND_FLAT);

  // The same change tested alone is a fall.
  ScorecardQuery query{.tenant = "acme", .journey = "switching",
                       .touchpoints = {"web_site"}};
  query.start_day = testing::kMarch1;
  query.end_day = testing::kMarch1 + 14;
  const GroupRollup first = store_.Scorecard(query)->groups.at(0);
  query.start_day = testing::kMarch1 + 14;
  query.end_day = testing::kMarch1 + 28;
  const GroupRollup second = store_.Scorecard(query)->groups.at(0);
  EXPECT_EQ(DirectionOf(first, second, v1::CSAT_TOP2_BOX, {}), v1::TREND_DOWN);
}

TEST_F(JourneyMapTest, DefaultRangeIsTheLast28Days) {
  const v1::Journey journey = Switching();
  v1::GetJourneyMapRequest request;
  request.set_journey("switching");
  const absl::Time now = absl::FromUnixSeconds(kMarch1Seconds + 40 * kDay + 5);
  absl::StatusOr<v1::JourneyMap> map =
      ComputeJourneyMap(store_, "acme", request, journey, journey, now, {});
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->range().start().seconds(), kMarch1Seconds + 13 * kDay);
  EXPECT_EQ(map->range().end().seconds(), kMarch1Seconds + 41 * kDay);
}

TEST_F(JourneyMapTest, TargetStatusNearWhenTheIntervalReachesTheTarget) {
  Add("web_site", "research", "web", 0, 1, 6, 5);
  Add("web_site", "research", "web", 0, 1, 4, 1);  // 60 % of 10 answers
  const v1::Journey journey = Switching();
  absl::StatusOr<v1::JourneyMap> map = ComputeJourneyMap(
      store_, "acme", Request(), journey, journey,
      absl::FromUnixSeconds(kMarch1Seconds), {});
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->cells(0).touchpoints(0).target_status(), v1::NEAR_TARGET);
}

TEST(DirectionOf, UsesTheChangeTestsPerMetric) {
  GroupRollup before, after;
  before.csat[4] = 80;
  before.csat[0] = 20;
  after.csat[4] = 50;
  after.csat[0] = 50;
  EXPECT_EQ(DirectionOf(before, after, v1::CSAT_TOP2_BOX, {}), v1::TREND_DOWN);
  EXPECT_EQ(DirectionOf(after, before, v1::CSAT_TOP2_BOX, {}), v1::TREND_UP);
  EXPECT_EQ(DirectionOf(before, before, v1::CSAT_TOP2_BOX, {}), v1::TREND_FLAT);
  EXPECT_EQ(DirectionOf(before, after, v1::CSAT_TOP2_BOX, {.min_sample = 101}),
            v1::TREND_UNKNOWN);
  before.nps[10] = 60;
  before.nps[0] = 40;
  after.nps[10] = 30;
  after.nps[0] = 70;
  EXPECT_EQ(DirectionOf(before, after, v1::NPS, {}), v1::TREND_DOWN);
  before.ces[6] = 50;
  before.ces[4] = 50;
  after.ces[0] = 50;
  after.ces[2] = 50;
  EXPECT_EQ(DirectionOf(before, after, v1::CES_MEAN, {}), v1::TREND_DOWN);
}

TEST_F(JourneyMapTest, ConsistencyFlagsTheChannelThatDiffers) {
  // Purchase: the shop 90 %, the phone 40 %; research has one channel.
  Add("shop_visit", "purchase", "shop", 0, 10, 9, 5);
  Add("shop_visit", "purchase", "shop", 0, 10, 1, 1);
  Add("order_call", "purchase", "phone", 0, 10, 4, 5);
  Add("order_call", "purchase", "phone", 0, 10, 6, 1);
  Add("web_site", "research", "web", 0, 10, 10, 4);
  v1::GetConsistencyRequest request;
  request.set_journey("switching");
  absl::StatusOr<v1::Consistency> consistency =
      ComputeConsistency(store_, "acme", request, Switching(), {});
  ASSERT_TRUE(consistency.ok()) << consistency.status();
  ASSERT_EQ(consistency->stages_size(), 2);
  EXPECT_EQ(consistency->stages(0).stage(), "research");  // journey order
  const v1::StageConsistency& purchase = consistency->stages(1);
  EXPECT_EQ(purchase.name(), "Stage purchase");
  const v1::MetricConsistency& csat = purchase.metrics(0);
  EXPECT_EQ(csat.metric(), v1::CSAT_TOP2_BOX);
  EXPECT_TRUE(csat.inconsistent());
  EXPECT_NEAR(csat.spread(), 0.5, 1e-12);
  ASSERT_EQ(csat.channels_size(), 2);
  EXPECT_EQ(csat.channels(0).channel(), "phone");
  EXPECT_EQ(csat.channels(0).n(), 100);
  EXPECT_DOUBLE_EQ(csat.channels(0).value(), 0.4);
  EXPECT_TRUE(csat.channels(0).tested());
  EXPECT_TRUE(csat.channels(0).significant());
  EXPECT_NEAR(csat.channels(0).effect(), -0.5, 1e-12);
  EXPECT_TRUE(csat.channels(0).has_ci95());
  // NPS: no answers anywhere; nothing tested.
  const v1::MetricConsistency& promoters = purchase.metrics(1);
  EXPECT_EQ(promoters.metric(), v1::NPS_PROMOTER_SHARE);
  EXPECT_FALSE(promoters.inconsistent());
  EXPECT_FALSE(promoters.channels(0).has_value());
  EXPECT_FALSE(consistency->stages(0).metrics(0).inconsistent());

  request.set_stage("purchase");
  consistency = ComputeConsistency(store_, "acme", request, Switching(), {});
  ASSERT_TRUE(consistency.ok());
  EXPECT_EQ(consistency->stages_size(), 1);
  request.set_stage("nowhere");
  EXPECT_EQ(ComputeConsistency(store_, "acme", request, Switching(), {})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polku::insight
