// Brings projections registered on a database that already holds data up to
// the ledger, on a thread of its own, one step (one transaction) at a time,
// while the feed tailer goes on: RollupStore::CatchUpStep until none is
// behind. A failed step is retried after a pause, so a database outage only
// delays it.
//
//   ProjectionCatchUp catch_up(*store);
//   catch_up.Start();
//   …
//   catch_up.Stop();   // waits for the step in progress
#ifndef POLKU_SERVICES_INSIGHT_SERVER_PROJECTION_CATCH_UP_H_
#define POLKU_SERVICES_INSIGHT_SERVER_PROJECTION_CATCH_UP_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/insight/store/rollup_store.h"

namespace polku::insight {

class ProjectionCatchUp {
 public:
  explicit ProjectionCatchUp(RollupStore& store,
                             absl::Duration retry = absl::Seconds(5))
      : store_(store), retry_(retry) {}
  ~ProjectionCatchUp() { Stop(); }

  void Start();
  // Idempotent.
  void Stop();
  // Whether every projection has caught up (tests).
  bool done() const;

 private:
  void Run();

  RollupStore& store_;
  const absl::Duration retry_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SERVER_PROJECTION_CATCH_UP_H_
