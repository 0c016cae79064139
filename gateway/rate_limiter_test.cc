#include "gateway/rate_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace polku::gateway {
namespace {

class RateLimiterTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
};

TEST_F(RateLimiterTest, BurstThenRefusalWithRetryHintThenRefill) {
  RateLimiter limiter({.per_second = 2, .burst = 3}, {}, clock_);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  RateLimiter::Decision refused = limiter.Admit("k1", "demo");
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.limit, "key");
  EXPECT_EQ(refused.retry_after, absl::Milliseconds(500));  // 1 token at 2/s

  clock_.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter.Admit("k1", "demo").allowed);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  // Never more than the burst, however long the quiet.
  clock_.Advance(absl::Hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  EXPECT_FALSE(limiter.Admit("k1", "demo").allowed);
}

TEST_F(RateLimiterTest, AnAbusiveKeyDoesNotStarveAnotherKey) {
  RateLimiter limiter({.per_second = 1, .burst = 5}, {}, clock_);
  for (int i = 0; i < 1000; ++i) limiter.Admit("abuser", "demo");
  EXPECT_FALSE(limiter.Admit("abuser", "demo").allowed);
  EXPECT_TRUE(limiter.Admit("polite", "demo").allowed);
}

TEST_F(RateLimiterTest, TenantLimitCoversAllItsKeysAndRefundsTheKey) {
  RateLimiter limiter({.per_second = 10, .burst = 2},
                      {.per_second = 1, .burst = 3}, clock_);
  EXPECT_TRUE(limiter.Admit("a", "demo").allowed);
  EXPECT_TRUE(limiter.Admit("b", "demo").allowed);
  EXPECT_TRUE(limiter.Admit("c", "demo").allowed);
  RateLimiter::Decision refused = limiter.Admit("d", "demo");
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.limit, "tenant");
  EXPECT_EQ(refused.retry_after, absl::Seconds(1));
  // Another tenant is unaffected.
  EXPECT_TRUE(limiter.Admit("e", "other").allowed);
  // "d" was refused by its tenant, so its own bucket is still full.
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(limiter.Admit("d", "demo").allowed);
  EXPECT_TRUE(limiter.Admit("d", "demo").allowed);
}

TEST_F(RateLimiterTest, ZeroRateMeansNoLimit) {
  RateLimiter limiter({}, {}, clock_);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(limiter.Admit("k", "demo").allowed);
  }
}

TEST_F(RateLimiterTest, ConcurrentCallersGetExactlyTheBurst) {
  RateLimiter limiter({.per_second = 1, .burst = 100}, {}, clock_);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.Admit("shared", "demo").allowed) allowed.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 100);  // The clock does not move.
}

}  // namespace
}  // namespace polku::gateway
