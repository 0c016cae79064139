// Raises SLA reminders and breaches as their time comes: a background
// thread asks the store every `interval` (CaseStore::RaiseSlaAlerts, which
// records each alert in its case in the transaction that raises it, so each
// is raised once, also with several replicas) and hands what was raised to
// `on_raised` (a log line). Each alert is also a change of its case, so a
// WatchCases subscriber on any replica receives it.
//
//   SlaTimer timer(store, {.interval = absl::Seconds(60)});
//   timer.Start();  …  timer.Stop();
#ifndef POLKU_SERVICES_CASES_SERVER_SLA_TIMER_H_
#define POLKU_SERVICES_CASES_SERVER_SLA_TIMER_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

class SlaTimer {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(60);
    // Called on the timer's thread for each alert raised; must not block.
    std::function<void(const SlaAlertRaised&)> on_raised;
  };

  SlaTimer(CaseStore& store, Options options)
      : store_(store), options_(std::move(options)) {}
  ~SlaTimer() { Stop(); }
  SlaTimer(const SlaTimer&) = delete;
  SlaTimer& operator=(const SlaTimer&) = delete;

  void Start();
  // Returns once the thread has ended; idempotent.
  void Stop();
  // One round, on the caller's thread (tests, and each tick).
  absl::Status Tick();

 private:
  CaseStore& store_;
  const Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_SLA_TIMER_H_
