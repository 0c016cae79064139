#include "gateway/rate_limiter.h"

#include <algorithm>
#include <functional>
#include <string_view>
#include <utility>

namespace polku::gateway {

RateLimiter::Buckets::Buckets(RateLimit limit)
    : limit_(limit),
      burst_(std::max(limit.burst, 1.0)),
      time_to_fill_(limit.per_second > 0
                        ? absl::Seconds(burst_ / limit.per_second)
                        : absl::InfiniteDuration()) {}

RateLimiter::Buckets::Shard& RateLimiter::Buckets::ShardOf(
    absl::string_view name) {
  // std::hash, not absl::Hash: the shard's map uses absl::Hash, and taking
  // the shard from the same bits would leave those bits alike in each map.
  return shards_[std::hash<std::string_view>()(
                     std::string_view(name.data(), name.size())) %
                 kShards];
}

double RateLimiter::Buckets::TokensAt(const Bucket& bucket,
                                      absl::Time now) const {
  if (now <= bucket.updated) return bucket.tokens;
  double refill =
      absl::ToDoubleSeconds(now - bucket.updated) * limit_.per_second;
  return std::min(burst_, bucket.tokens + refill);
}

void RateLimiter::Buckets::Sweep(Shard& shard, absl::Time now) {
  // Whatever it held, a bucket idle since then is full. Most buckets fail
  // this cheap test; the exact one settles the rest (rounding).
  const absl::Time full_if_idle_since = now - time_to_fill_;
  for (int visits = 0; visits < kSweepVisits && !shard.buckets.empty();
       ++visits) {
    if (shard.sweep_next >= shard.buckets.size()) shard.sweep_next = 0;
    Bucket& bucket = shard.buckets[shard.sweep_next];
    if (bucket.updated > full_if_idle_since || TokensAt(bucket, now) < burst_) {
      ++shard.sweep_next;
      continue;
    }
    // Full, so as good as new: evict. The last bucket takes its place and is
    // looked at next.
    shard.positions.erase(bucket.name);
    if (&bucket != &shard.buckets.back()) {
      bucket = std::move(shard.buckets.back());
      shard.positions[bucket.name] = shard.sweep_next;
    }
    shard.buckets.pop_back();
  }
}

absl::Duration RateLimiter::Buckets::Take(absl::string_view name,
                                          absl::Time now) {
  if (limit_.per_second <= 0) return absl::ZeroDuration();
  Shard& shard = ShardOf(name);
  absl::MutexLock lock(&shard.mu);
  // Before the lookup: the sweep moves buckets.
  if (++shard.calls_since_sweep == kSweepEvery) {
    shard.calls_since_sweep = 0;
    Sweep(shard, now);
  }
  auto [it, fresh] = shard.positions.try_emplace(name, shard.buckets.size());
  if (fresh) shard.buckets.push_back(Bucket{std::string(name), burst_, now});
  Bucket& bucket = shard.buckets[it->second];
  if (!fresh && now > bucket.updated) {
    bucket.tokens = TokensAt(bucket, now);
    bucket.updated = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::ZeroDuration();
  }
  return std::max(absl::Milliseconds(1),
                  absl::Seconds((1 - bucket.tokens) / limit_.per_second));
}

void RateLimiter::Buckets::Refund(absl::string_view name) {
  if (limit_.per_second <= 0) return;
  Shard& shard = ShardOf(name);
  absl::MutexLock lock(&shard.mu);
  // An evicted bucket was full: nothing to give back.
  if (auto it = shard.positions.find(name); it != shard.positions.end()) {
    shard.buckets[it->second].tokens += 1;
  }
}

size_t RateLimiter::Buckets::size() const {
  size_t size = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    size += shard.buckets.size();
  }
  return size;
}

RateLimiter::RateLimiter(RateLimit per_key, RateLimit per_tenant,
                         const Clock& clock)
    : clock_(clock), per_key_(per_key), per_tenant_(per_tenant) {}

RateLimiter::Decision RateLimiter::Admit(absl::string_view key_id,
                                         absl::string_view tenant) {
  absl::Time now = clock_.Now();
  Decision decision;
  if (absl::Duration wait = per_key_.Take(key_id, now);
      wait > absl::ZeroDuration()) {
    decision.allowed = false;
    decision.retry_after = wait;
    decision.limit = "key";
    return decision;
  }
  if (absl::Duration wait = per_tenant_.Take(tenant, now);
      wait > absl::ZeroDuration()) {
    // The call does not happen: the key keeps its token.
    per_key_.Refund(key_id);
    decision.allowed = false;
    decision.retry_after = wait;
    decision.limit = "tenant";
  }
  return decision;
}

size_t RateLimiter::bucket_count() const {
  return per_key_.size() + per_tenant_.size();
}

}  // namespace polku::gateway
