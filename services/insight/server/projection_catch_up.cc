#include "services/insight/server/projection_catch_up.h"

#include "lib/base/log.h"

namespace polku::insight {

void ProjectionCatchUp::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ProjectionCatchUp::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool ProjectionCatchUp::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

void ProjectionCatchUp::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<bool> behind = store_.CatchUpStep();
    if (behind.ok() && !*behind) break;
    if (!behind.ok()) {
      log::Warning("projection catch-up failed; retrying",
                   {{"error", behind.status().ToString()}});
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), retry_);
    }
  }
  absl::MutexLock lock(&mu_);
  done_ = true;
}

}  // namespace polku::insight
