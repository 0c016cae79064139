// The write schedule of one server-push stream, kept apart from gRPC so that
// its rules are unit-tested: at most one write in flight, messages in order,
// a bounded backlog, and exactly one Finish. PushStream (push_stream.h)
// carries out its actions; every watch RPC of the suite uses it.
//
//   PushQueue<Update>::Action action = queue.Push(std::move(message));
//   if (action.write != nullptr) StartWrite(action.write);
//   if (action.finish.has_value()) Finish(ToGrpcStatus(*action.finish));
//
// A subscriber that falls more than `max_pending` messages behind is
// finished with RESOURCE_EXHAUSTED: holding an unbounded backlog for it
// would let one stuck client grow the server's memory without limit, and on
// watching again it gets a fresh start, which is all it needs.
#ifndef POLKU_LIB_RPC_PUSH_QUEUE_H_
#define POLKU_LIB_RPC_PUSH_QUEUE_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polku::rpc {

template <typename Message>
class PushQueue {
 public:
  // What the reactor must do next; both parts may be empty.
  struct Action {
    // Start writing this message; it stays valid until the next WriteDone.
    const Message* write = nullptr;
    // Finish the stream with this status.
    std::optional<absl::Status> finish;
  };

  explicit PushQueue(size_t max_pending) : max_pending_(max_pending) {}

  // A message to send. Dropped once the stream is finishing.
  Action Push(Message message) {
    if (closing()) return {};
    if (pending_.size() >= max_pending_) {
      pending_.clear();
      return Close(absl::ResourceExhaustedError(absl::StrCat(
          "subscriber fell more than ", max_pending_,
          " messages behind; reconnect to receive a fresh snapshot")));
    }
    pending_.push_back(std::move(message));
    if (writing_) return {};
    return StartNextWrite();
  }

  // The write in flight completed; `ok` false means the stream is broken.
  Action WriteDone(bool ok) {
    writing_ = false;
    if (deferred_finish_.has_value()) {
      finished_ = true;
      Action action;
      action.finish = *std::move(deferred_finish_);
      deferred_finish_.reset();
      return action;
    }
    if (finished_) return {};
    if (!ok) {
      // The client is gone; the stream still needs its Finish.
      pending_.clear();
      finished_ = true;
      Action action;
      action.finish = absl::CancelledError("write to the subscriber failed");
      return action;
    }
    if (pending_.empty()) return {};
    return StartNextWrite();
  }

  // End the stream with `status` (cancellation, shutdown) once any write in
  // flight completes; what is queued behind it is dropped. Later calls are
  // ignored.
  Action Close(absl::Status status) {
    if (closing()) return {};
    pending_.clear();
    return Finish(std::move(status));
  }

  // End the stream with `status` after the queued messages are written.
  Action CloseAfterPending(absl::Status status) {
    if (closing()) return {};
    if (pending_.empty()) return Finish(std::move(status));
    close_after_pending_ = std::move(status);
    return {};
  }

  // True once a Finish has been handed out, or is waiting for a write.
  bool closing() const {
    return finished_ || deferred_finish_.has_value() ||
           close_after_pending_.has_value();
  }

  // Messages queued behind the one in flight.
  size_t pending() const { return pending_.size(); }

 private:
  Action Finish(absl::Status status) {
    if (writing_) {
      deferred_finish_ = std::move(status);
      return {};
    }
    finished_ = true;
    Action action;
    action.finish = std::move(status);
    return action;
  }

  Action StartNextWrite() {
    in_flight_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    if (pending_.empty() && close_after_pending_.has_value()) {
      deferred_finish_ = *std::move(close_after_pending_);
      close_after_pending_.reset();
    }
    Action action;
    action.write = &in_flight_;
    return action;
  }

  const size_t max_pending_;
  std::deque<Message> pending_;
  Message in_flight_;
  bool writing_ = false;
  bool finished_ = false;
  // A Finish that waits for the write in flight.
  std::optional<absl::Status> deferred_finish_;
  // A Finish that waits for every queued message.
  std::optional<absl::Status> close_after_pending_;
};

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_PUSH_QUEUE_H_
