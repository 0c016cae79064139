#include "gateway/health_cache.h"

namespace polku::gateway {

HealthCache::Health HealthCache::Get() {
  mu_.Lock();
  const absl::Time asked_at = clock_.Now();
  while (checking_) {
    // A check runs: wait for its answer, which is likely fresh enough.
    mu_.Await(absl::Condition(
        +[](bool* checking) { return !*checking; }, &checking_));
  }
  if (asked_at - checked_at_ <= max_age_) {
    Health health = health_;
    mu_.Unlock();
    return health;
  }
  checking_ = true;
  ++checks_;
  mu_.Unlock();
  Health health = check_();
  mu_.Lock();
  health_ = health;
  checked_at_ = asked_at;
  checking_ = false;
  mu_.Unlock();
  return health;
}

int HealthCache::checks() const {
  absl::MutexLock lock(&mu_);
  return checks_;
}

}  // namespace polku::gateway
