#include "services/cases/server/sla_timer.h"

#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::cases {

absl::Status SlaTimer::Tick() {
  POLKU_ASSIGN_OR_RETURN(std::vector<SlaAlertRaised> raised,
                         store_.RaiseSlaAlerts());
  for (const SlaAlertRaised& alert : raised) {
    if (options_.on_raised) options_.on_raised(alert);
  }
  return absl::OkStatus();
}

void SlaTimer::Start() {
  thread_ = std::thread([this] {
    do {
      if (absl::Status status = Tick(); !status.ok()) {
        log::Warning("SLA alerts not evaluated; trying again",
                     {{"error", status.ToString()}});
      }
    } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
  });
}

void SlaTimer::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace polku::cases
