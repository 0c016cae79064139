// The write schedule of one WatchJourneys subscriber, kept apart from gRPC so
// that its rules are unit-tested: at most one write in flight, messages in
// order, a bounded backlog, and exactly one Finish.
//
// The reactor owning it calls one method per event under its own lock and
// carries out the returned Action:
//
//   WatchQueue::Action action = queue.Push(std::move(message));
//   if (action.write != nullptr) StartWrite(action.write);
//   if (action.finish.has_value()) Finish(ToGrpcStatus(*action.finish));
//
// A subscriber that falls more than `max_pending` messages behind is finished
// with RESOURCE_EXHAUSTED: holding an unbounded backlog for it would let one
// stuck client grow the server's memory without limit, and on reconnecting it
// gets a fresh snapshot, which is all it needs.
#ifndef POLKU_SERVICES_JOURNEY_WATCH_QUEUE_H_
#define POLKU_SERVICES_JOURNEY_WATCH_QUEUE_H_

#include <cstddef>
#include <deque>
#include <optional>

#include "absl/status/status.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

class WatchQueue {
 public:
  // What the reactor must do next; both parts may be empty.
  struct Action {
    // Start writing this message; it stays valid until the next WriteDone.
    const polku::v1::WatchJourneysResponse* write = nullptr;
    // Finish the stream with this status.
    std::optional<absl::Status> finish;
  };

  explicit WatchQueue(size_t max_pending) : max_pending_(max_pending) {}

  // A message to send. Dropped once the stream is finishing.
  Action Push(polku::v1::WatchJourneysResponse message);

  // The write in flight completed; `ok` false means the stream is broken.
  Action WriteDone(bool ok);

  // End the stream with `status` (cancellation, shutdown) once any write in
  // flight completes. Later calls are ignored.
  Action Close(absl::Status status);

  // True once a Finish has been handed out, or is waiting for a write.
  bool closing() const { return finished_ || deferred_finish_.has_value(); }

  // Messages queued behind the one in flight.
  size_t pending() const { return pending_.size(); }

 private:
  Action StartNextWrite();

  const size_t max_pending_;
  std::deque<polku::v1::WatchJourneysResponse> pending_;
  polku::v1::WatchJourneysResponse in_flight_;
  bool writing_ = false;
  bool finished_ = false;
  // A Finish that waits for the write in flight.
  std::optional<absl::Status> deferred_finish_;
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_WATCH_QUEUE_H_
