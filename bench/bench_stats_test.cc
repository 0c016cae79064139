#include "bench/bench_stats.h"

#include "gtest/gtest.h"

namespace polku::bench {
namespace {

TEST(LatenciesTest, PercentilesAreWithinOnePercentAboveTheExactValue) {
  Latencies latencies;
  for (int ms = 1; ms <= 1000; ++ms) latencies.Add(ms);
  // Exact (rank ⌊p·n⌋ from 0): the 501st, 991st and 1000th smallest.
  EXPECT_GE(latencies.Percentile(0.50), 501);
  EXPECT_LE(latencies.Percentile(0.50), 501 * 1.01);
  EXPECT_GE(latencies.Percentile(0.99), 991);
  EXPECT_LE(latencies.Percentile(0.99), 991 * 1.01);
  EXPECT_GE(latencies.Percentile(0.999), 1000);
  EXPECT_LE(latencies.Percentile(0.999), 1000 * 1.01);
}

TEST(LatenciesTest, EmptyIsZero) { EXPECT_EQ(Latencies().Percentile(0.99), 0); }

TEST(LatenciesTest, CountsAndMergesWeighTheirEvents) {
  // 99 fast events and one slow call of 2 events: p99 is slow.
  Latencies fast;
  fast.Add(1.0, 98);
  Latencies slow;
  slow.Add(500.0, 2);
  fast.Merge(slow);
  EXPECT_LE(fast.Percentile(0.50), 1.01);
  EXPECT_GE(fast.Percentile(0.99), 500);
  EXPECT_LE(fast.Percentile(0.99), 505);
}

TEST(ArrivalScheduleTest, ClientsInterleaveAtTheRate) {
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  // 1000 events/s over 4 clients: each client every 4 ms, client 1 from 1 ms.
  const ArrivalSchedule client1(start, 1000, 1, 4);
  EXPECT_EQ(client1.Arrival(0), start + absl::Milliseconds(1));
  EXPECT_EQ(client1.Arrival(9), start + absl::Milliseconds(37));
  EXPECT_EQ(client1.ArrivedBy(start + absl::Microseconds(999)), 0);
  EXPECT_EQ(client1.ArrivedBy(start + absl::Milliseconds(1)), 1);
  EXPECT_EQ(client1.ArrivedBy(start + absl::Milliseconds(37)), 10);
  EXPECT_EQ(client1.ArrivedBy(start + absl::Microseconds(40'999)), 10);

  int64_t all = 0;
  for (int c = 0; c < 4; ++c) {
    all += ArrivalSchedule(start, 1000, c, 4)
               .ArrivedBy(start + absl::Seconds(10) - absl::Nanoseconds(1));
  }
  EXPECT_EQ(all, 10'000);
}

TEST(LeastSquaresSlopeTest, FitsALine) {
  EXPECT_DOUBLE_EQ(LeastSquaresSlope({1, 2, 3, 4}, {5, 8, 11, 14}), 3);
  // Noise around a flat line.
  EXPECT_DOUBLE_EQ(LeastSquaresSlope({1, 2, 3, 4}, {10, 12, 10, 12}), 0.4);
  EXPECT_EQ(LeastSquaresSlope({1}, {7}), 0);
}

TEST(MemoryVerdictTest, FlatWithinTenPercentOfTheOneMinuteValue) {
  EXPECT_EQ(MemoryVerdict(1000, 1100), "flat");
  EXPECT_EQ(MemoryVerdict(1000, 900), "flat");
  EXPECT_EQ(MemoryVerdict(1000, 1101), "grows");
  EXPECT_EQ(MemoryVerdict(1000, 899), "shrinks");
}

}  // namespace
}  // namespace polku::bench
