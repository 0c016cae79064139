// The arithmetic behind polku-bench's tables: latency percentiles in fixed
// memory, the schedule events arrive on, and the soak's memory verdict.
//
//   ArrivalSchedule schedule(start, /*rate=*/4000, /*client=*/1,
//   /*clients=*/4); int64_t ready = schedule.ArrivedBy(absl::Now()) - sent;
//   latencies.Add(absl::ToDoubleMilliseconds(answered - schedule.Arrival(j)));
//   latencies.Percentile(0.99);
#ifndef POLKU_BENCH_BENCH_STATS_H_
#define POLKU_BENCH_BENCH_STATS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace polku::bench {

// Acknowledgement latencies in buckets 1 % wide (from 1 µs to hours), so
// that memory stays fixed however long a run is: the soak measures the
// bench's own RSS too. A percentile is its bucket's upper edge, at most 1 %
// above the exact value.
class Latencies {
 public:
  void Add(double ms, int64_t count = 1);
  void Merge(const Latencies& other);
  // 0 when nothing was added.
  double Percentile(double p) const;

 private:
  static constexpr size_t kBuckets = 2400;  // 1.01^2400 µs ≈ 6 hours

  std::vector<int64_t> counts_ = std::vector<int64_t>(kBuckets);
  int64_t total_ = 0;
};

// One client's share of events arriving `rate` per second over `clients`
// clients: client c's j-th event arrives at start + (j + c/clients)·spacing,
// spacing = clients/rate, so the clients' arrivals interleave evenly.
class ArrivalSchedule {
 public:
  ArrivalSchedule(absl::Time start, double rate, int client, int clients);

  absl::Time Arrival(int64_t j) const { return first_ + spacing_ * j; }
  // How many of this client's events have arrived by `t` (inclusive).
  int64_t ArrivedBy(absl::Time t) const;

 private:
  absl::Duration spacing_;
  absl::Time first_;
};

// Slope of the least-squares line through (x[i], y[i]); 0 for fewer than two
// distinct x.
double LeastSquaresSlope(const std::vector<double>& x,
                         const std::vector<double>& y);

// The soak's rule: "flat" when the end is within 10 % of the one-minute
// value, else "grows" or "shrinks".
std::string MemoryVerdict(int64_t one_minute_kb, int64_t end_kb);

}  // namespace polku::bench

#endif  // POLKU_BENCH_BENCH_STATS_H_
