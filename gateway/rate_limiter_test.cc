#include "gateway/rate_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace polku::gateway {
namespace {

// Calls `calls_each` times with each of `keys` new keys, under tenants of
// their own; each key's bucket ends partly drained when `calls_each` > 0.
// With a thousand keys, every shard sees enough calls to sweep all its
// buckets several times over.
void CallWithNewKeys(RateLimiter& limiter, absl::string_view prefix,
                     int calls_each, int keys = 1000) {
  for (int i = 0; i < keys; ++i) {
    std::string key = absl::StrCat(prefix, "-key-", i);
    std::string tenant = absl::StrCat(prefix, "-tenant-", i);
    for (int call = 0; call < calls_each; ++call) limiter.Admit(key, tenant);
  }
}

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

TEST_F(RateLimiterTest, BucketsIdleUntilFullAreEvicted) {
  RateLimiter limiter({.per_second = 1, .burst = 4},
                      {.per_second = 10, .burst = 40}, clock_);
  CallWithNewKeys(limiter, "january", 1);
  EXPECT_EQ(limiter.bucket_count(), 2000u);  // a key and a tenant each

  // January's keys are rotated out. After burst / per_second idle, any
  // bucket is full.
  clock_.Advance(absl::Seconds(4));
  CallWithNewKeys(limiter, "february", 8);   // 4 admitted, 4 refused
  EXPECT_EQ(limiter.bucket_count(), 2000u);  // February's alone

  clock_.Advance(absl::Seconds(4));
  CallWithNewKeys(limiter, "march", 8);
  EXPECT_EQ(limiter.bucket_count(), 2000u);
}

TEST_F(RateLimiterTest, AnEvictedKeyIsAdmittedAsANewOne) {
  RateLimiter limiter({.per_second = 1, .burst = 3}, {}, clock_);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  EXPECT_FALSE(limiter.Admit("k1", "demo").allowed);

  clock_.Advance(absl::Seconds(3));
  CallWithNewKeys(limiter, "others", 4);
  EXPECT_EQ(limiter.bucket_count(), 1000u);  // k1's bucket is gone

  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  RateLimiter::Decision refused = limiter.Admit("k1", "demo");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Seconds(1));
}

TEST_F(RateLimiterTest, APartlyDrainedBucketIsKeptUntilItHasRefilled) {
  RateLimiter limiter({.per_second = 1, .burst = 4},
                      {.per_second = 1, .burst = 4}, clock_);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);

  // Two seconds on, k1 and demo have 3 of 4 tokens; the others' buckets are
  // drained.
  clock_.Advance(absl::Seconds(2));
  CallWithNewKeys(limiter, "others", 4);
  EXPECT_EQ(limiter.bucket_count(), 2002u);

  // No free refill: k1 gets its 3 tokens, not a new burst of 4.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);
  RateLimiter::Decision refused = limiter.Admit("k1", "demo");
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.limit, "key");
  EXPECT_EQ(refused.retry_after, absl::Seconds(1));
}

TEST_F(RateLimiterTest, EvictionIsExactWhereRoundingLeavesABucketJustShort) {
  RateLimiter limiter({.per_second = 3, .burst = 1}, {}, clock_);
  EXPECT_TRUE(limiter.Admit("k1", "demo").allowed);

  // burst / per_second = 1/3 s rounds down to whole quarter nanoseconds, so
  // k1 is a hair short of its token: not full, so not evicted.
  clock_.Advance(absl::Seconds(1.0 / 3));
  CallWithNewKeys(limiter, "others", 2);
  EXPECT_EQ(limiter.bucket_count(), 1001u);
  EXPECT_FALSE(limiter.Admit("k1", "demo").allowed);
}

}  // namespace
}  // namespace polku::gateway
