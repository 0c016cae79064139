#include "services/insight/analytics/trend.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/stats/scores.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using ::testing::HasSubstr;
using testing::FakeRollupStore;
using testing::kMarch1;
using testing::kMarch1Seconds;
using testing::MakeEvent;

constexpr int64_t kDay = 24 * 3600;

google::protobuf::Timestamp At(int64_t seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  return t;
}

v1::GetTrendRequest Request(v1::Metric metric, v1::Bucket bucket,
                            int64_t start, int64_t end) {
  v1::GetTrendRequest request;
  request.mutable_scope()->set_journey("switching");
  request.set_metric(metric);
  request.set_bucket(bucket);
  *request.mutable_range()->mutable_start() = At(start);
  *request.mutable_range()->mutable_end() = At(end);
  return request;
}

absl::Time Now() { return absl::FromUnixSeconds(kMarch1Seconds + 90 * kDay); }

TEST(Trend, WeeksAreRoundedOutwardsAndEmptyWeeksIncluded) {
  // 2024-03-01 is a Friday; its ISO week starts Monday 2024-02-26.
  FakeRollupStore store;
  store.Add(MakeEvent({.sequence = 1, .offset_seconds = 0, .csat = 5}));
  store.Add(MakeEvent({.sequence = 2, .offset_seconds = 3600, .csat = 2}));
  store.Add(MakeEvent({.sequence = 3, .offset_seconds = 15 * kDay, .csat = 4}));
  // From Wednesday 2024-03-06 to Saturday 2024-03-16 (mid-day).
  absl::StatusOr<v1::Trend> trend = ComputeTrend(
      store, "acme",
      Request(v1::CSAT_TOP2_BOX, v1::WEEK, kMarch1Seconds - 2 * kDay,
              kMarch1Seconds + 15 * kDay + 3600),
      {}, Now());
  ASSERT_TRUE(trend.ok()) << trend.status();
  const int64_t monday = kMarch1Seconds - 4 * kDay;
  EXPECT_EQ(trend->range().start().seconds(), monday);
  EXPECT_EQ(trend->range().end().seconds(), monday + 21 * kDay);
  ASSERT_EQ(trend->points_size(), 3);
  const v1::TrendPoint& first = trend->points(0);
  EXPECT_EQ(first.bucket().start().seconds(), monday);
  EXPECT_EQ(first.bucket().end().seconds(), monday + 7 * kDay);
  EXPECT_EQ(first.n(), 2);
  EXPECT_DOUBLE_EQ(first.value(), 0.5);
  const stats::Interval wilson = stats::Wilson(1, 2);
  EXPECT_DOUBLE_EQ(first.ci95().low(), wilson.low);
  EXPECT_DOUBLE_EQ(first.ci95().high(), wilson.high);
  // The middle week has no answers: n 0, no value, no interval.
  EXPECT_EQ(trend->points(1).n(), 0);
  EXPECT_FALSE(trend->points(1).has_value());
  EXPECT_FALSE(trend->points(1).has_ci95());
  EXPECT_EQ(trend->points(2).n(), 1);
  EXPECT_DOUBLE_EQ(trend->points(2).value(), 1.0);
  EXPECT_EQ(trend->as_of_sequence(), 3);
  EXPECT_EQ(trend->bucket(), v1::WEEK);
}

TEST(Trend, MonthsFollowTheCalendar) {
  FakeRollupStore store;
  // 2024-02-29 (leap day) and 2024-03-31.
  store.Add(MakeEvent({.sequence = 1, .offset_seconds = -kDay + 60, .nps = 10}));
  store.Add(MakeEvent({.sequence = 2, .offset_seconds = 30 * kDay, .nps = 0}));
  store.Add(MakeEvent({.sequence = 3, .offset_seconds = 30 * kDay, .nps = 9}));
  absl::StatusOr<v1::Trend> trend =
      ComputeTrend(store, "acme",
                   Request(v1::NPS, v1::MONTH, kMarch1Seconds - 10 * kDay,
                           kMarch1Seconds + 20 * kDay),
                   {}, Now());
  ASSERT_TRUE(trend.ok()) << trend.status();
  ASSERT_EQ(trend->points_size(), 2);
  // February 2024 has 29 days.
  EXPECT_EQ(trend->points(0).bucket().start().seconds(),
            kMarch1Seconds - 29 * kDay);
  EXPECT_EQ(trend->points(0).bucket().end().seconds(), kMarch1Seconds);
  EXPECT_EQ(trend->points(1).bucket().end().seconds(),
            kMarch1Seconds + 31 * kDay);
  EXPECT_DOUBLE_EQ(trend->points(0).value(), 100);
  // March: one promoter, one detractor → NPS 0 ± 1.96·100·√(1/2).
  EXPECT_EQ(trend->points(1).n(), 2);
  EXPECT_NEAR(trend->points(1).value(), 0, 1e-12);
  EXPECT_NEAR(trend->points(1).ci95().high(), 100, 1e-9);  // clamped
}

TEST(Trend, MeansHaveATInterval) {
  FakeRollupStore store;
  store.Add(MakeEvent({.sequence = 1, .ces = 4}));
  store.Add(MakeEvent({.sequence = 2, .ces = 6}));
  v1::StoredEvent waited = MakeEvent({.sequence = 3});
  (*waited.mutable_event()->mutable_measures())["wait_seconds"] = 30;
  store.Add(waited);
  waited = MakeEvent({.sequence = 4});
  (*waited.mutable_event()->mutable_measures())["wait_seconds"] = 90;
  store.Add(waited);

  absl::StatusOr<v1::Trend> ces = ComputeTrend(
      store, "acme",
      Request(v1::CES_MEAN, v1::DAY, kMarch1Seconds, kMarch1Seconds + kDay),
      {}, Now());
  ASSERT_TRUE(ces.ok()) << ces.status();
  ASSERT_EQ(ces->points_size(), 1);
  // Mean 5, s² = 2, n = 2: 5 ± t(0.975, 1)·√(2/2) = 5 ± 12.7062.
  EXPECT_DOUBLE_EQ(ces->points(0).value(), 5);
  EXPECT_NEAR(ces->points(0).ci95().low(), 5 - 12.7062, 1e-3);
  EXPECT_NEAR(ces->points(0).ci95().high(), 5 + 12.7062, 1e-3);

  v1::GetTrendRequest request =
      Request(v1::MEASURE_MEAN, v1::DAY, kMarch1Seconds, kMarch1Seconds + kDay);
  request.set_measure("wait_seconds");
  absl::StatusOr<v1::Trend> wait = ComputeTrend(store, "acme", request, {}, Now());
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->points(0).n(), 2);
  EXPECT_DOUBLE_EQ(wait->points(0).value(), 60);
  // s = √1800 = 42.43: 60 ± 12.7062·42.43/√2.
  EXPECT_NEAR(wait->points(0).ci95().high(), 60 + 12.7062 * 30, 1e-2);

  absl::StatusOr<v1::Trend> count = ComputeTrend(
      store, "acme",
      Request(v1::EVENT_COUNT, v1::DAY, kMarch1Seconds, kMarch1Seconds + kDay),
      {}, Now());
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(count->points(0).n(), 4);
  EXPECT_DOUBLE_EQ(count->points(0).value(), 4);
  EXPECT_FALSE(count->points(0).has_ci95());
}

TEST(Trend, FiltersFollowRenamesAndAttributes) {
  FakeRollupStore store;
  store.Add(MakeEvent({.sequence = 1, .touchpoint = "web_site", .csat = 5}));
  store.Add(MakeEvent({.sequence = 2, .journey_version = 2,
                       .touchpoint = "web_page", .csat = 1}));
  store.Add(MakeEvent({.sequence = 3, .touchpoint = "shop", .csat = 1}));
  v1::StoredEvent tagged = MakeEvent({.sequence = 4, .touchpoint = "web_page",
                                      .csat = 4});
  (*tagged.mutable_event()->mutable_attributes())["store_id"] = "hki-01";
  store.Add(tagged);

  v1::GetTrendRequest request = Request(
      v1::CSAT_TOP2_BOX, v1::DAY, kMarch1Seconds, kMarch1Seconds + kDay);
  request.mutable_scope()->set_touchpoint("web_page");
  const TouchpointSuccessors successors{{"web_site", "web_page"}};
  absl::StatusOr<v1::Trend> trend =
      ComputeTrend(store, "acme", request, successors, Now());
  ASSERT_TRUE(trend.ok()) << trend.status();
  EXPECT_EQ(trend->points(0).n(), 3);  // web_site's answer counts too

  request.mutable_scope()->set_journey_version(2);
  trend = ComputeTrend(store, "acme", request, successors, Now());
  ASSERT_TRUE(trend.ok()) << trend.status();
  EXPECT_EQ(trend->points(0).n(), 1);

  request.mutable_scope()->set_journey_version(0);
  (*request.mutable_scope()->mutable_attributes())["store_id"] = "hki-01";
  trend = ComputeTrend(store, "acme", request, successors, Now());
  ASSERT_TRUE(trend.ok()) << trend.status();
  EXPECT_EQ(trend->points(0).n(), 1);
  EXPECT_DOUBLE_EQ(trend->points(0).value(), 1.0);
}

TEST(Trend, EndDefaultsToNow) {
  FakeRollupStore store;
  v1::GetTrendRequest request = Request(v1::EVENT_COUNT, v1::DAY,
                                        kMarch1Seconds, 0);
  request.mutable_range()->clear_end();
  absl::StatusOr<v1::Trend> trend = ComputeTrend(
      store, "acme", request, {},
      absl::FromUnixSeconds(kMarch1Seconds + 2 * kDay + 60));
  ASSERT_TRUE(trend.ok()) << trend.status();
  EXPECT_EQ(trend->points_size(), 3);  // today so far included
}

TEST(Trend, BadRequestsNameTheField) {
  FakeRollupStore store;
  const auto error = [&](const v1::GetTrendRequest& request) {
    return ComputeTrend(store, "acme", request, {}, Now()).status();
  };
  v1::GetTrendRequest good = Request(v1::NPS, v1::DAY, kMarch1Seconds,
                                     kMarch1Seconds + kDay);
  ASSERT_TRUE(error(good).ok());

  v1::GetTrendRequest request = good;
  request.mutable_scope()->clear_journey();
  EXPECT_THAT(error(request).message(), HasSubstr("scope.journey"));
  request = good;
  request.set_metric(v1::METRIC_UNSPECIFIED);
  EXPECT_THAT(error(request).message(), HasSubstr("metric"));
  request = good;
  request.set_metric(v1::MEASURE_MEAN);
  EXPECT_THAT(error(request).message(), HasSubstr("measure"));
  request = good;
  request.mutable_range()->clear_start();
  EXPECT_THAT(error(request).message(), HasSubstr("range.start"));
  request = good;
  *request.mutable_range()->mutable_end() = At(kMarch1Seconds - kDay);
  EXPECT_THAT(error(request).message(), HasSubstr("range"));
  request = Request(v1::NPS, v1::DAY, kMarch1Seconds,
                    kMarch1Seconds + 1001 * kDay);
  absl::Status too_many = error(request);
  EXPECT_EQ(too_many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.message(), HasSubstr("range: more than 1000 buckets"));
  // The same range in weeks is fine.
  request.set_bucket(v1::WEEK);
  EXPECT_TRUE(error(request).ok());
  request.set_bucket(static_cast<v1::Bucket>(9));
  EXPECT_THAT(error(request).message(), HasSubstr("bucket"));
}

TEST(Trend, BucketMath) {
  // 2024-03-01 (Friday) → Monday 2024-02-26; 2024-03-04 is a Monday.
  EXPECT_EQ(BucketStart(kMarch1, v1::WEEK), kMarch1 - 4);
  EXPECT_EQ(BucketStart(kMarch1 + 3, v1::WEEK), kMarch1 + 3);
  EXPECT_EQ(BucketStart(kMarch1 + 30, v1::MONTH), kMarch1);
  EXPECT_EQ(NextBucket(kMarch1 - 29, v1::MONTH), kMarch1);
  EXPECT_EQ(NextBucket(kMarch1, v1::DAY), kMarch1 + 1);
}

}  // namespace
}  // namespace polku::insight
