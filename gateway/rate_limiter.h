// Token buckets per API key and per tenant, so that one client (or one
// tenant's many clients) cannot take the gateway from everyone else.
//
//   RateLimiter limiter({.per_second = 50, .burst = 100},     // each key
//                       {.per_second = 500, .burst = 1000},   // each tenant
//                       Clock::Real());
//   RateLimiter::Decision d = limiter.Admit(principal.key_id,
//   principal.tenant); if (!d.allowed) → RESOURCE_EXHAUSTED, retry after
//   d.retry_after
//
// A call takes one token from its key's bucket and one from its tenant's;
// a bucket refills at `per_second` up to `burst`. Admit is O(1): the buckets
// live in 32 shards, each a small hash map behind its own mutex, so callers
// of different keys rarely meet on a lock and none waits on I/O.
#ifndef POLKU_GATEWAY_RATE_LIMITER_H_
#define POLKU_GATEWAY_RATE_LIMITER_H_

#include <array>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"

namespace polku::gateway {

struct RateLimit {
  // Tokens added per second; 0 = no limit.
  double per_second = 0;
  // Bucket size: calls allowed at once after a quiet spell.
  double burst = 0;
};

class RateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    // When a refused call would succeed (at least 1 ms).
    absl::Duration retry_after;
    // "key" or "tenant": the limit that refused it.
    const char* limit = "";
  };

  // `clock` must outlive the limiter.
  RateLimiter(RateLimit per_key, RateLimit per_tenant, const Clock& clock);

  Decision Admit(absl::string_view key_id, absl::string_view tenant);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 32;

  // Takes a token from the bucket `name` (refilled to `now`); if there is
  // none, how long until there is one.
  absl::Duration Take(const RateLimit& limit, const std::string& name,
                      absl::Time now);
  // Returns a token taken by Take.
  void Refund(const RateLimit& limit, const std::string& name);

  const RateLimit per_key_;
  const RateLimit per_tenant_;
  const Clock& clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_RATE_LIMITER_H_
