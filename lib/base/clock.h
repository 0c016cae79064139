// Time behind an interface, so that tests control it.
//
//   Clock& clock = Clock::Real();
//   absl::Time now = clock.Now();
//
//   FakeClock fake(absl::FromUnixSeconds(1'700'000'000));  // in tests
//   fake.Advance(absl::Hours(1));
#ifndef POLKU_LIB_BASE_CLOCK_H_
#define POLKU_LIB_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polku {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The system clock; lives forever.
  static Clock& Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override;
  void Set(absl::Time now);
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku

#endif  // POLKU_LIB_BASE_CLOCK_H_
