// The backends' health as /readyz and /metrics report it, asked of the
// backends at most once per `max_age` however often (and by however many
// at once) those pages are requested: they need no key, so their request
// rate is anyone's to choose, and must not become the backends' load.
//
//   HealthCache health([&] { return backends.CheckHealth(absl::Seconds(1)); },
//                      absl::Seconds(1));
//   std::map<std::string, bool> up = health.Get();   // ≤ 1 s old
//
// Single flight: when the answer is too old, the first caller runs the
// check and callers arriving meanwhile wait for that answer instead of
// starting their own; there is never more than one check at a time.
#ifndef POLKU_GATEWAY_HEALTH_CACHE_H_
#define POLKU_GATEWAY_HEALTH_CACHE_H_

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"

namespace polku::gateway {

class HealthCache {
 public:
  // Backend name → whether it answered SERVING.
  using Health = std::map<std::string, bool>;

  // `check` blocks (with its own timeout); `clock` must outlive the cache.
  HealthCache(std::function<Health()> check, absl::Duration max_age,
              const Clock& clock = Clock::Real())
      : check_(std::move(check)), max_age_(max_age), clock_(clock) {}

  // An answer whose check started at most max_age before this call. Blocks
  // while a check runs.
  Health Get() ABSL_LOCKS_EXCLUDED(mu_);

  // Checks run so far.
  int checks() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::function<Health()> check_;
  const absl::Duration max_age_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  Health health_ ABSL_GUARDED_BY(mu_);
  // When the check behind health_ was asked for; InfinitePast before the
  // first.
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool checking_ ABSL_GUARDED_BY(mu_) = false;
  int checks_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_HEALTH_CACHE_H_
