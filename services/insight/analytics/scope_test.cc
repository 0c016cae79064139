#include "services/insight/analytics/scope.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

TEST(ScopeTest, EveryFilterReachesTheQuery) {
  v1::Scope scope;
  scope.set_journey("switching");
  scope.set_stage("purchase");
  scope.set_channel("shop");
  scope.set_touchpoint("shop_sales");
  scope.add_touchpoints("call");
  (*scope.mutable_attributes())["store_id"] = "hki-01";
  scope.mutable_range()->mutable_start()->set_seconds(testing::kMarch1Seconds +
                                                      3600);
  scope.mutable_range()->mutable_end()->set_seconds(testing::kMarch1Seconds +
                                                    2 * 86'400);
  absl::StatusOr<ScorecardQuery> query =
      ToScorecardQuery(scope, "acme", {{"till_sales", "shop_sales"}});
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->tenant, "acme");
  EXPECT_EQ(query->journey, "switching");
  EXPECT_EQ(query->journey_version, 0);
  EXPECT_EQ(query->stage, "purchase");
  EXPECT_EQ(query->channel, "shop");
  // Every version: a renamed touchpoint's former key matches too.
  EXPECT_THAT(query->touchpoints,
              UnorderedElementsAre("call", "shop_sales", "till_sales"));
  EXPECT_EQ(query->attributes,
            (std::vector<std::pair<std::string, std::string>>{
                {"store_id", "hki-01"}}));
  // Whole UTC days: start rounded down, end (midnight) exclusive.
  EXPECT_EQ(query->start_day, testing::kMarch1);
  EXPECT_EQ(query->end_day, testing::kMarch1 + 2);

  scope.set_journey_version(2);
  query = ToScorecardQuery(scope, "acme", {{"till_sales", "shop_sales"}});
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_THAT(query->touchpoints, UnorderedElementsAre("call", "shop_sales"));
}

TEST(ScopeTest, AnUnsetRangeIsOpen) {
  v1::Scope scope;
  scope.set_journey("switching");
  absl::StatusOr<ScorecardQuery> query = ToScorecardQuery(scope, "acme");
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->start_day, kFirstDay);
  EXPECT_EQ(query->end_day, kLastDay);
  EXPECT_TRUE(query->touchpoints.empty());
}

TEST(ScopeTest, BadFiltersNameTheirField) {
  v1::Scope scope;
  EXPECT_THAT(ToScorecardQuery(scope, "acme").status().message(),
              HasSubstr("scope.journey: required"));
  scope.set_journey("switching");
  scope.set_journey_version(-1);
  EXPECT_THAT(ToScorecardQuery(scope, "acme").status().message(),
              HasSubstr("scope.journey_version"));
  scope.set_journey_version(0);
  scope.mutable_range()->mutable_start()->set_seconds(100);
  scope.mutable_range()->mutable_end()->set_seconds(100);
  EXPECT_THAT(ToScorecardQuery(scope, "acme").status().message(),
              HasSubstr("scope.range: start must be before end"));
  scope.clear_range();
  (*scope.mutable_attributes())[""] = "x";
  absl::Status empty_name =
      ToScorecardQuery(scope, "acme", {}, "request.scope").status();
  EXPECT_EQ(empty_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty_name.message(), HasSubstr("request.scope.attributes"));
}

}  // namespace
}  // namespace polku::insight
