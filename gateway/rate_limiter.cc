#include "gateway/rate_limiter.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"

namespace polku::gateway {

RateLimiter::RateLimiter(RateLimit per_key, RateLimit per_tenant,
                         const Clock& clock)
    : per_key_(per_key), per_tenant_(per_tenant), clock_(clock) {}

absl::Duration RateLimiter::Take(const RateLimit& limit,
                                 const std::string& name, absl::Time now) {
  if (limit.per_second <= 0) return absl::ZeroDuration();
  double burst = std::max(limit.burst, 1.0);
  Shard& shard = shards_[std::hash<std::string>()(name) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto [it, fresh] = shard.buckets.try_emplace(name, Bucket{burst, now});
  Bucket& bucket = it->second;
  if (!fresh && now > bucket.updated) {
    bucket.tokens = std::min(
        burst, bucket.tokens + absl::ToDoubleSeconds(now - bucket.updated) *
                                   limit.per_second);
    bucket.updated = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::ZeroDuration();
  }
  return std::max(absl::Milliseconds(1),
                  absl::Seconds((1 - bucket.tokens) / limit.per_second));
}

void RateLimiter::Refund(const RateLimit& limit, const std::string& name) {
  if (limit.per_second <= 0) return;
  Shard& shard = shards_[std::hash<std::string>()(name) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.buckets.find(name);
  if (it != shard.buckets.end()) it->second.tokens += 1;
}

RateLimiter::Decision RateLimiter::Admit(absl::string_view key_id,
                                         absl::string_view tenant) {
  absl::Time now = clock_.Now();
  // Distinct name spaces, so a key id never shares a bucket with a tenant.
  std::string key_name = absl::StrCat("k/", key_id);
  std::string tenant_name = absl::StrCat("t/", tenant);
  Decision decision;
  if (absl::Duration wait = Take(per_key_, key_name, now);
      wait > absl::ZeroDuration()) {
    decision.allowed = false;
    decision.retry_after = wait;
    decision.limit = "key";
    return decision;
  }
  if (absl::Duration wait = Take(per_tenant_, tenant_name, now);
      wait > absl::ZeroDuration()) {
    // The call does not happen: the key keeps its token.
    Refund(per_key_, key_name);
    decision.allowed = false;
    decision.retry_after = wait;
    decision.limit = "tenant";
  }
  return decision;
}

}  // namespace polku::gateway
