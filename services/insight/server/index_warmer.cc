#include "services/insight/server/index_warmer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/base/log.h"

namespace polku::insight {

void IndexWarmer::Start() {
  thread_ = std::thread([this] {
    Run();
    absl::MutexLock lock(&mu_);
    done_ = true;
  });
}

void IndexWarmer::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void IndexWarmer::WaitUntilDone() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
}

void IndexWarmer::Run() {
  const absl::Time started = absl::Now();
  const absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
      journeys = rollups_.JourneysWithEvents();
  if (!journeys.ok()) {
    log::Warning(name_ + ": cannot list the journeys to warm; each is "
                 "loaded by its first call",
                 {{"error", journeys.status().ToString()}});
    return;
  }
  log::Info(name_ + ": warming",
            {{"journeys", static_cast<int64_t>(journeys->size())}});
  int64_t loaded = 0;
  for (const auto& [tenant, journey] : *journeys) {
    if (stopping_) break;
    const absl::Status status = load_(tenant, journey, &stopping_);
    if (status.ok()) {
      ++loaded;
    } else if (!stopping_) {
      log::Warning(name_ + ": warming a journey failed; its first call "
                   "loads it",
                   {{"tenant", tenant},
                    {"journey", journey},
                    {"error", status.ToString()}});
    }
  }
  log::Info(name_ + (stopping_ ? ": warming stopped" : ": warm"),
            {{"journeys", loaded},
             {"held", size_()},
             {"seconds", absl::ToDoubleSeconds(absl::Now() - started)}});
}

}  // namespace polku::insight
