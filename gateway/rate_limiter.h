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
//
// Keys are rotated and revoked and tenants leave, so buckets do not stay
// forever: a bucket idle long enough to be full again, whatever it held
// (burst / per_second), is evicted. That is exact, not an approximation: a
// full bucket admits exactly what a new one would, so the next call of an
// evicted key or tenant is treated as if its bucket had been kept. A partly
// drained bucket is never evicted.
// Eviction is amortised: every kSweepEvery calls on a shard, the caller also
// looks at the shard's next kSweepVisits buckets (round-robin), under the
// lock it already holds. bucket_count() says how many buckets are held.
#ifndef POLKU_GATEWAY_RATE_LIMITER_H_
#define POLKU_GATEWAY_RATE_LIMITER_H_

#include <array>
#include <cstddef>
#include <string>
#include <vector>

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

  // Buckets held now, of keys and tenants together: those not yet evicted
  // (see above). For monitoring, e.g. as a gauge of live buckets; it takes
  // every shard's lock in turn, so do not call it per request.
  size_t bucket_count() const;

 private:
  // The buckets of one limit: every key's, or every tenant's.
  class Buckets {
   public:
    explicit Buckets(RateLimit limit);

    // Takes a token from the bucket `name` (refilled to `now`); if there is
    // none, how long until there is one.
    absl::Duration Take(absl::string_view name, absl::Time now);
    // Returns a token taken by Take.
    void Refund(absl::string_view name);
    size_t size() const;

   private:
    struct Bucket {
      std::string name;
      double tokens;
      absl::Time updated;
    };
    struct Shard {
      mutable absl::Mutex mu;
      // In no order; the sweep walks it round-robin from `sweep_next`.
      std::vector<Bucket> buckets ABSL_GUARDED_BY(mu);
      // Bucket name → its position in `buckets`.
      absl::flat_hash_map<std::string, size_t> positions ABSL_GUARDED_BY(mu);
      size_t sweep_next ABSL_GUARDED_BY(mu) = 0;
      int calls_since_sweep ABSL_GUARDED_BY(mu) = 0;
    };
    static constexpr size_t kShards = 32;
    // A shard gains at most one bucket per call, and the sweep looks at two
    // per call: every bucket is looked at again before the shard can have
    // doubled, so idle ones cannot pile up.
    static constexpr int kSweepEvery = 32;
    static constexpr int kSweepVisits = 64;

    Shard& ShardOf(absl::string_view name);
    // The tokens `bucket` holds at `now`: refilled, at most the burst.
    double TokensAt(const Bucket& bucket, absl::Time now) const;
    // Evicts the buckets among the next kSweepVisits that have been idle for
    // time_to_fill_, and so are full.
    void Sweep(Shard& shard, absl::Time now)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

    const RateLimit limit_;
    const double burst_;
    // How long an empty bucket takes to fill.
    const absl::Duration time_to_fill_;
    std::array<Shard, kShards> shards_;
  };

  const Clock& clock_;
  Buckets per_key_;
  Buckets per_tenant_;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_RATE_LIMITER_H_
