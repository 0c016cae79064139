// Keeps the TouchpointIndex current from polku-journey's WatchJourneys
// stream, on a background thread: the first message of every stream
// (`reset`) replaces the index, later ones apply single publishes. When the
// stream ends (journey service restarted, network trouble, or the planned
// end of a long call) the watcher reconnects with capped exponential backoff
// and reloads everything, so a publish missed while disconnected is never
// missed for long.
//
//   auto channel = grpc::CreateChannel("127.0.0.1:7102",
//   grpc::InsecureChannelCredentials()); JourneyWatcher watcher(channel, index,
//   [&] { server->SetServing(kName, true); }); watcher.Start(); …
//   watcher.Stop();   // cancels the call, joins the thread
#ifndef POLKU_SERVICES_FEEDBACK_JOURNEY_WATCHER_H_
#define POLKU_SERVICES_FEEDBACK_JOURNEY_WATCHER_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "polku/v1/journey.grpc.pb.h"
#include "services/feedback/touchpoint_index.h"

namespace polku::feedback {

struct JourneyWatcherOptions {
  // Every call ends by this deadline and is then renewed: no call lives
  // forever on a connection that silently died.
  absl::Duration call_deadline = absl::Hours(1);
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class JourneyWatcher {
 public:
  // `on_loaded` runs (on the watcher's thread) after the first full set has
  // been applied to `index`.
  JourneyWatcher(std::shared_ptr<grpc::ChannelInterface> channel,
                 TouchpointIndex& index, std::function<void()> on_loaded,
                 JourneyWatcherOptions options = JourneyWatcherOptions());
  // Stops if still running.
  ~JourneyWatcher();

  JourneyWatcher(const JourneyWatcher&) = delete;
  JourneyWatcher& operator=(const JourneyWatcher&) = delete;

  void Start();
  // Cancels the call in flight and joins the thread; returns promptly.
  void Stop();

  // Streams opened so far (tests: a reconnect happened).
  int connections() const;

 private:
  void Run();
  // One WatchJourneys call; true if it delivered the full set.
  bool WatchOnce();
  bool Stopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }

  std::unique_ptr<polku::v1::JourneyService::Stub> stub_;
  TouchpointIndex& index_;
  std::function<void()> on_loaded_;
  const JourneyWatcherOptions options_;
  bool loaded_ = false;  // watcher thread only

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The call in flight, so that Stop can cancel it.
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread thread_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_JOURNEY_WATCHER_H_
