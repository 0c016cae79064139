#include "bench/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace polku::bench {
namespace {

constexpr double kMinMs = 1e-3;
constexpr double kGrowth = 1.01;

// Bucket b holds (kMinMs·kGrowth^(b-1), kMinMs·kGrowth^b].
size_t Bucket(double ms, size_t buckets) {
  if (ms <= kMinMs) return 0;
  const double b = std::ceil(std::log(ms / kMinMs) / std::log(kGrowth));
  return std::min(buckets - 1, static_cast<size_t>(b));
}

}  // namespace

void Latencies::Add(double ms, int64_t count) {
  counts_[Bucket(ms, kBuckets)] += count;
  total_ += count;
}

void Latencies::Merge(const Latencies& other) {
  for (size_t b = 0; b < kBuckets; ++b) counts_[b] += other.counts_[b];
  total_ += other.total_;
}

double Latencies::Percentile(double p) const {
  if (total_ == 0) return 0;
  const int64_t rank = std::min(
      total_ - 1, static_cast<int64_t>(p * static_cast<double>(total_)));
  int64_t seen = 0;
  size_t b = 0;
  while (b + 1 < kBuckets && seen + counts_[b] <= rank) seen += counts_[b++];
  return kMinMs * std::pow(kGrowth, static_cast<double>(b));
}

ArrivalSchedule::ArrivalSchedule(absl::Time start, double rate, int client,
                                 int clients)
    : spacing_(absl::Seconds(clients / rate)),
      first_(start + spacing_ * client / clients) {}

int64_t ArrivalSchedule::ArrivedBy(absl::Time t) const {
  if (t < first_) return 0;
  absl::Duration remainder;
  return absl::IDivDuration(t - first_, spacing_, &remainder) + 1;
}

double LeastSquaresSlope(const std::vector<double>& x,
                         const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double denominator = n * sxx - sx * sx;
  return denominator > 0 ? (n * sxy - sx * sy) / denominator : 0;
}

std::string MemoryVerdict(int64_t one_minute_kb, int64_t end_kb) {
  const int64_t growth = end_kb - one_minute_kb;
  if (std::abs(growth) * 10 <= one_minute_kb) return "flat";
  return growth > 0 ? "grows" : "shrinks";
}

}  // namespace polku::bench
