#include "gateway/health_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace polku::gateway {
namespace {

TEST(HealthCacheTest, AsksAgainOnlyOnceTheAnswerIsOlderThanMaxAge) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  bool up = true;
  auto check = [&] { return HealthCache::Health{{"journey", up}}; };
  HealthCache cache(check, absl::Seconds(1), clock);
  EXPECT_TRUE(cache.Get().at("journey"));
  up = false;
  clock.Advance(absl::Milliseconds(900));
  EXPECT_TRUE(cache.Get().at("journey"));  // Still the first answer.
  EXPECT_EQ(cache.checks(), 1);
  clock.Advance(absl::Milliseconds(200));
  EXPECT_FALSE(cache.Get().at("journey"));
  EXPECT_EQ(cache.checks(), 2);
}

// Callers arriving while a check runs wait for its answer: however many
// there are, one check.
TEST(HealthCacheTest, ConcurrentCallersShareOneCheck) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  absl::Notification release;
  std::atomic<int> running{0};
  HealthCache cache(
      [&] {
        ++running;
        release.WaitForNotification();
        return HealthCache::Health{{"feedback", true}};
      },
      absl::Seconds(1), clock);
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 20; ++i) {
    callers.emplace_back([&] {
      if (cache.Get().at("feedback")) ++answered;
    });
  }
  // Bounded: the first caller is inside the check.
  for (int i = 0; i < 5000 && running.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  release.Notify();
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(answered.load(), 20);
  EXPECT_EQ(cache.checks(), 1);
}

}  // namespace
}  // namespace polku::gateway
