#include "lib/base/process.h"

#include "absl/synchronization/mutex.h"

namespace polku {

void SetUpProcess() {
#ifdef NDEBUG
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

}  // namespace polku
