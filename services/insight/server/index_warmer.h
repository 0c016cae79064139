// Loads an in-memory index of the ledger — the touch index
// (analytics/touch_index.h) or the theme index (analytics/theme_index.h) —
// for every (tenant, journey) with counted events
// (RollupReader::JourneysWithEvents), on a thread of its own, so that the
// first call on a journey does not pay the load. Serving goes on meanwhile:
// a call on a journey being loaded waits for that load (which it would
// otherwise do itself), calls on other journeys do not. A failed load is
// logged and left to the first call.
//
//   IndexWarmer warmer(*store, touches);
//   warmer.Start();
//   …
//   warmer.Stop();   // ends the load in progress early (CANCELLED)
//
// Another index is warmed by giving its name (for the log), its Load and
// its size:
//   IndexWarmer themes_warmer(*store, "theme index",
//       [&](auto& t, auto& j, auto* stop) { return themes.Load(t, j, stop); },
//       [&] { return themes.comments(); });
#ifndef POLKU_SERVICES_INSIGHT_SERVER_INDEX_WARMER_H_
#define POLKU_SERVICES_INSIGHT_SERVER_INDEX_WARMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

class IndexWarmer {
 public:
  // `rollups` and `index` must outlive the warmer.
  IndexWarmer(RollupReader& rollups, TouchIndex& index)
      : IndexWarmer(
            rollups, "touch index",
            [&index](const std::string& tenant, const std::string& journey,
                     const std::atomic<bool>* stop) {
              return index.Load(tenant, journey, stop);
            },
            [&index] { return index.events(); }) {}
  using Loader = std::function<absl::Status(const std::string& tenant,
                                            const std::string& journey,
                                            const std::atomic<bool>* stop)>;
  // `size`: what the index holds, for the log.
  IndexWarmer(RollupReader& rollups, std::string name, Loader load,
                   std::function<int64_t()> size)
      : rollups_(rollups),
        name_(std::move(name)),
        load_(std::move(load)),
        size_(std::move(size)) {}
  ~IndexWarmer() { Stop(); }

  void Start();
  // Promptly: the ledger read in progress ends at its next event. Idempotent.
  void Stop();
  // Blocks until every journey was loaded (or failed) or Stop (tests).
  void WaitUntilDone();

 private:
  void Run();

  RollupReader& rollups_;
  const std::string name_;
  const Loader load_;
  const std::function<int64_t()> size_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SERVER_INDEX_WARMER_H_
