#include "services/insight/analytics/scorecard.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::EventSpec;
using ::testing::HasSubstr;
using testing::kMarch1Seconds;
using testing::MakeEvent;

constexpr double kTolerance = 1e-9;

class ScorecardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The in-memory store: the SQLite one answers the same (the store's
    // conformance suite), and a computation's test needs no database.
    store_ = std::make_unique<MemoryRollupStore>();
  }

  void Apply(const std::vector<EventSpec>& specs) {
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (const EventSpec& spec : specs) *page.Add() = MakeEvent(spec);
    ASSERT_TRUE(store_->Apply(page).ok());
  }

  // The hand-computed data set: 10 events at the web site (research, web)
  // and 3 at the shop-in-shop seller (purchase, shop) of tenant acme's
  // journey "switching", plus noise of another tenant and journey.
  void ApplyHandMadeEvents() {
    // NPS answers 10,10,9,8,7,6,3,10,9,0; CSAT 5,4,4,3,2,5 on the first six;
    // CES 7,6,5,2 on the first four.
    const int nps[] = {10, 10, 9, 8, 7, 6, 3, 10, 9, 0};
    const int csat[] = {5, 4, 4, 3, 2, 5};
    const int ces[] = {7, 6, 5, 2};
    std::vector<EventSpec> web;
    for (int i = 0; i < 10; ++i) {
      EventSpec spec{.sequence = i + 1, .nps = nps[i]};
      if (i < 6) spec.csat = csat[i];
      if (i < 4) spec.ces = ces[i];
      web.push_back(spec);
    }
    Apply(web);
    const EventSpec shop{.touchpoint = "shop_in_shop_sales",
                         .stage = "purchase",
                         .channel = "shop"};
    EventSpec rated = shop, unrated = shop, next_day = shop;
    rated.sequence = 11;
    rated.nps = 10;
    rated.csat = 5;
    unrated.sequence = 12;
    next_day.sequence = 13;
    next_day.offset_seconds = 86'400 + 60;  // 2024-03-02
    Apply({rated, unrated, next_day});
    Apply({{.sequence = 14, .tenant = "globex", .nps = 0, .ces = 1},
           {.sequence = 15, .journey = "renovation", .nps = 0}});
  }

  v1::GetScorecardRequest Request() {
    v1::GetScorecardRequest request;
    request.set_journey("switching");
    return request;
  }

  absl::StatusOr<v1::Scorecard> Compute(const v1::GetScorecardRequest& request,
                                        const std::string& tenant = "acme") {
    return ComputeScorecard(*store_, tenant, request);
  }

  std::unique_ptr<MemoryRollupStore> store_;
};

TEST_F(ScorecardTest, HandComputedMetricsPerTouchpoint) {
  ApplyHandMadeEvents();
  absl::StatusOr<v1::Scorecard> card = Compute(Request());
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->journey(), "switching");
  EXPECT_EQ(card->group_by(), v1::GROUP_BY_TOUCHPOINT);
  EXPECT_EQ(card->as_of_sequence(), 15);
  EXPECT_FALSE(card->range().has_start());
  EXPECT_FALSE(card->range().has_end());
  ASSERT_EQ(card->rows_size(), 2);

  // Ordered by key: "shop_in_shop_sales" < "web_site".
  const v1::ScorecardRow& shop = card->rows(0);
  EXPECT_EQ(shop.group(), "shop_in_shop_sales");
  EXPECT_EQ(shop.events(), 3);
  // One NPS answer, 10: p = 1, d = 0 → NPS 100, half-width 0.
  EXPECT_EQ(shop.nps().responses(), 1);
  EXPECT_NEAR(shop.nps().score(), 100, kTolerance);
  EXPECT_NEAR(shop.nps().ci95().low(), 100, kTolerance);
  EXPECT_NEAR(shop.nps().ci95().high(), 100, kTolerance);
  // One CSAT answer, 5: top-2-box 1; Wilson for 1 of 1 is
  // [n/(n + z²), 1] = [1/4.8416 = 0.2065432914…, 1].
  EXPECT_NEAR(shop.csat().top2_box(), 1, kTolerance);
  EXPECT_NEAR(shop.csat().ci95().low(), 0.20654329147389294, kTolerance);
  EXPECT_NEAR(shop.csat().ci95().high(), 1, kTolerance);
  EXPECT_NEAR(shop.csat().mean(), 5, kTolerance);
  EXPECT_FALSE(shop.has_ces());  // no CES answers: unset, not zero

  const v1::ScorecardRow& web = card->rows(1);
  EXPECT_EQ(web.group(), "web_site");
  EXPECT_EQ(web.events(), 10);
  // NPS: promoters 10,10,9,10,9 (5), passives 8,7 (2), detractors 6,3,0 (3);
  // p = 0.5, d = 0.3 → NPS = 100·(0.5 − 0.3) = 20;
  // half-width 1.96·100·√((0.5 + 0.3 − 0.2²)/10) = 196·√0.076 = 54.0334711…
  EXPECT_EQ(web.nps().responses(), 10);
  EXPECT_EQ(web.nps().promoters(), 5);
  EXPECT_EQ(web.nps().passives(), 2);
  EXPECT_EQ(web.nps().detractors(), 3);
  EXPECT_NEAR(web.nps().score(), 20, kTolerance);
  EXPECT_NEAR(web.nps().ci95().low(), -34.03347110819367, kTolerance);
  EXPECT_NEAR(web.nps().ci95().high(), 74.03347110819368, kTolerance);
  // CSAT 5,4,4,3,2,5: top-2-box 4/6; mean 23/6 = 3.8333…; Wilson with
  // n = 6, p̂ = 2/3, z² = 3.8416: centre (p̂ + z²/12)/(1 + z²/6) = 0.6016094…,
  // half-width 1.96·√(p̂(1−p̂)/6 + z²/144)/(1 + z²/6) = 0.3016211…
  EXPECT_EQ(web.csat().responses(), 6);
  EXPECT_NEAR(web.csat().top2_box(), 4.0 / 6, kTolerance);
  EXPECT_NEAR(web.csat().ci95().low(), 0.29998832134152864, kTolerance);
  EXPECT_NEAR(web.csat().ci95().high(), 0.9032306674407831, kTolerance);
  EXPECT_NEAR(web.csat().mean(), 3.8333333333333335, kTolerance);
  // CES 7,6,5,2: mean 20/4 = 5; share of 5–7 = 3/4.
  EXPECT_EQ(web.ces().responses(), 4);
  EXPECT_NEAR(web.ces().mean(), 5, kTolerance);
  EXPECT_NEAR(web.ces().share_5_to_7(), 0.75, kTolerance);

  // Total over both: 13 events; NPS n = 11, p = 6/11, d = 3/11 → 27.2727…,
  // half-width 196·√((9/11 − 9/121)/11) = 50.9669…;
  // CSAT 5,4,4,3,2,5,5: top-2-box 5/7, mean 28/7 = 4.
  const v1::ScorecardRow& total = card->total();
  EXPECT_EQ(total.events(), 13);
  EXPECT_EQ(total.nps().responses(), 11);
  EXPECT_NEAR(total.nps().score(), 27.27272727272727, kTolerance);
  EXPECT_NEAR(total.nps().ci95().low(), -23.694182043309855, kTolerance);
  EXPECT_NEAR(total.nps().ci95().high(), 78.2396365887644, kTolerance);
  EXPECT_EQ(total.csat().responses(), 7);
  EXPECT_NEAR(total.csat().top2_box(), 5.0 / 7, kTolerance);
  EXPECT_NEAR(total.csat().ci95().low(), 0.35892909014821267, kTolerance);
  EXPECT_NEAR(total.csat().ci95().high(), 0.9177828342909844, kTolerance);
  EXPECT_NEAR(total.csat().mean(), 4, kTolerance);
  EXPECT_NEAR(total.ces().mean(), 5, kTolerance);
}

TEST_F(ScorecardTest, GroupsByStageAndChannel) {
  ApplyHandMadeEvents();
  v1::GetScorecardRequest request = Request();
  request.set_group_by(v1::GROUP_BY_STAGE);
  absl::StatusOr<v1::Scorecard> by_stage = Compute(request);
  ASSERT_TRUE(by_stage.ok()) << by_stage.status();
  EXPECT_EQ(by_stage->group_by(), v1::GROUP_BY_STAGE);
  ASSERT_EQ(by_stage->rows_size(), 2);
  EXPECT_EQ(by_stage->rows(0).group(), "purchase");
  EXPECT_EQ(by_stage->rows(0).events(), 3);
  EXPECT_EQ(by_stage->rows(1).group(), "research");
  EXPECT_NEAR(by_stage->rows(1).nps().score(), 20, kTolerance);

  request.set_group_by(v1::GROUP_BY_CHANNEL);
  absl::StatusOr<v1::Scorecard> by_channel = Compute(request);
  ASSERT_TRUE(by_channel.ok()) << by_channel.status();
  ASSERT_EQ(by_channel->rows_size(), 2);
  EXPECT_EQ(by_channel->rows(0).group(), "shop");
  EXPECT_EQ(by_channel->rows(1).group(), "web");
  EXPECT_EQ(by_channel->rows(1).events(), 10);
  EXPECT_EQ(by_channel->total().events(), 13);
}

TEST_F(ScorecardTest, RangeIsRoundedOutToUtcMidnightsAndEchoed) {
  ApplyHandMadeEvents();
  v1::GetScorecardRequest request = Request();
  // [2024-03-02T15:00Z, 2024-03-05T01:00Z) → days Mar 2, 3, 4, 5.
  request.mutable_range()->mutable_start()->set_seconds(kMarch1Seconds +
                                                        86'400 + 15 * 3600);
  request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds +
                                                      4 * 86'400 + 3600);
  absl::StatusOr<v1::Scorecard> card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->range().start().seconds(), kMarch1Seconds + 86'400);
  EXPECT_EQ(card->range().end().seconds(), kMarch1Seconds + 5 * 86'400);
  // Only the shop event of March 2 lies in it.
  ASSERT_EQ(card->rows_size(), 1);
  EXPECT_EQ(card->rows(0).group(), "shop_in_shop_sales");
  EXPECT_EQ(card->total().events(), 1);
  EXPECT_FALSE(card->total().has_nps());

  // An open start: everything before March 2.
  request.mutable_range()->clear_start();
  request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds + 86'400);
  card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_FALSE(card->range().has_start());
  EXPECT_EQ(card->total().events(), 12);
}

// "Today so far": start = today's midnight, end = now, both on one day.
TEST_F(ScorecardTest, TodaySoFarCoversToday) {
  ApplyHandMadeEvents();
  v1::GetScorecardRequest request = Request();
  request.mutable_range()->mutable_start()->set_seconds(kMarch1Seconds);
  request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds +
                                                      13 * 3600);
  request.mutable_range()->mutable_end()->set_nanos(5);
  absl::StatusOr<v1::Scorecard> card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->range().start().seconds(), kMarch1Seconds);
  EXPECT_EQ(card->range().end().seconds(), kMarch1Seconds + 86'400);
  EXPECT_EQ(card->range().end().nanos(), 0);
  EXPECT_EQ(card->total().events(), 12);  // March 1 only

  // An end exactly at midnight stays there: March 2 is not in it.
  request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds + 86'400);
  request.mutable_range()->mutable_end()->set_nanos(0);
  card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->range().end().seconds(), kMarch1Seconds + 86'400);
  EXPECT_EQ(card->total().events(), 12);
}

// Across versions, rows under a touchpoint's former keys count under its
// current key; for one version, keys stay as that version had them.
TEST_F(ScorecardTest, AcrossVersionsRenamedTouchpointsMergeIntoTheirSuccessor) {
  Apply(
      {{.sequence = 1, .journey_version = 1, .touchpoint = "quote", .nps = 10},
       {.sequence = 2, .journey_version = 2, .touchpoint = "offer", .nps = 0},
       {.sequence = 3,
        .journey_version = 3,
        .touchpoint = "proposal",
        .nps = 10},
       {.sequence = 4,
        .journey_version = 3,
        .touchpoint = "web_site",
        .nps = 9}});
  const TouchpointSuccessors successors = {{"quote", "proposal"},
                                           {"offer", "proposal"}};
  absl::StatusOr<v1::Scorecard> card =
      ComputeScorecard(*store_, "acme", Request(), successors);
  ASSERT_TRUE(card.ok()) << card.status();
  ASSERT_EQ(card->rows_size(), 2);
  EXPECT_EQ(card->rows(0).group(), "proposal");
  EXPECT_EQ(card->rows(0).events(), 3);
  EXPECT_EQ(card->rows(0).nps().promoters(), 2);
  EXPECT_EQ(card->rows(0).nps().detractors(), 1);
  EXPECT_EQ(card->rows(1).group(), "web_site");
  EXPECT_EQ(card->total().events(), 4);

  v1::GetScorecardRequest one_version = Request();
  one_version.set_journey_version(1);
  card = ComputeScorecard(*store_, "acme", one_version, successors);
  ASSERT_TRUE(card.ok()) << card.status();
  ASSERT_EQ(card->rows_size(), 1);
  EXPECT_EQ(card->rows(0).group(), "quote");

  v1::GetScorecardRequest by_stage = Request();
  by_stage.set_group_by(v1::GROUP_BY_STAGE);
  card = ComputeScorecard(*store_, "acme", by_stage, successors);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->total().events(), 4);
}

TEST_F(ScorecardTest, JourneyVersionZeroMeansEveryVersion) {
  Apply({{.sequence = 1, .journey_version = 1, .nps = 10},
         {.sequence = 2, .journey_version = 2, .nps = 0}});
  v1::GetScorecardRequest request = Request();
  EXPECT_EQ(Compute(request)->total().events(), 2);
  request.set_journey_version(2);
  absl::StatusOr<v1::Scorecard> card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->total().events(), 1);
  EXPECT_NEAR(card->total().nps().score(), -100, kTolerance);
}

TEST_F(ScorecardTest, AnotherTenantSeesNoneOfIt) {
  ApplyHandMadeEvents();
  absl::StatusOr<v1::Scorecard> globex = Compute(Request(), "globex");
  ASSERT_TRUE(globex.ok()) << globex.status();
  ASSERT_EQ(globex->rows_size(), 1);
  EXPECT_EQ(globex->total().events(), 1);
  EXPECT_NEAR(globex->total().nps().score(), -100, kTolerance);
  // And acme's card holds nothing of globex's or of the other journey.
  EXPECT_EQ(Compute(Request())->total().events(), 13);
}

TEST_F(ScorecardTest, JourneyWithoutDataIsAnEmptyScorecard) {
  ApplyHandMadeEvents();
  v1::GetScorecardRequest request = Request();
  request.set_journey("no_such_journey");
  absl::StatusOr<v1::Scorecard> card = Compute(request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->rows_size(), 0);
  EXPECT_EQ(card->total().events(), 0);
  EXPECT_FALSE(card->total().has_nps());
  EXPECT_FALSE(card->total().has_csat());
  EXPECT_FALSE(card->total().has_ces());
  EXPECT_EQ(card->as_of_sequence(), 15);
}

TEST(ScorecardAttributes, OnlyEventsCarryingEveryAttributeCount) {
  testing::FakeRollupStore store;
  const auto tagged = [](int64_t sequence, const char* store_id, int nps) {
    v1::StoredEvent event = MakeEvent({.sequence = sequence, .nps = nps});
    if (store_id != nullptr) {
      (*event.mutable_event()->mutable_attributes())["store_id"] = store_id;
    }
    return event;
  };
  store.Add(tagged(1, "hki-01", 10));
  store.Add(tagged(2, "hki-02", 0));
  store.Add(tagged(3, nullptr, 0));
  v1::GetScorecardRequest request;
  request.set_journey("switching");
  (*request.mutable_attributes())["store_id"] = "hki-01";
  absl::StatusOr<v1::Scorecard> card = ComputeScorecard(store, "acme", request);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->total().events(), 1);
  EXPECT_DOUBLE_EQ(card->total().nps().score(), 100);

  request.mutable_attributes()->clear();
  (*request.mutable_attributes())[""] = "x";
  card = ComputeScorecard(store, "acme", request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("attributes"));
}

TEST_F(ScorecardTest, BadRequestsNameTheField) {
  v1::GetScorecardRequest request;
  absl::StatusOr<v1::Scorecard> card = Compute(request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("journey"));

  request = Request();
  request.mutable_range()->mutable_start()->set_seconds(kMarch1Seconds + 10);
  request.mutable_range()->mutable_end()->set_seconds(kMarch1Seconds + 10);
  card = Compute(request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("range"));

  request = Request();
  request.mutable_range()->mutable_start()->set_nanos(-1);
  card = Compute(request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("range.start"));

  request = Request();
  request.set_group_by(static_cast<v1::GroupBy>(42));
  card = Compute(request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("group_by"));

  request = Request();
  request.set_journey_version(-1);
  card = Compute(request);
  EXPECT_EQ(card.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(card.status().message(), HasSubstr("journey_version"));
}

}  // namespace
}  // namespace polku::insight
