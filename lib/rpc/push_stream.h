// A bounded server-push stream: the reactor every watch RPC of the suite
// returns (WatchJourneys, WatchAlerts, WatchScorecard). Messages are
// written one at a time, in order; a subscriber more than `max_pending`
// behind is finished with RESOURCE_EXHAUSTED (PushQueue).
//
//   class AlertStream : public rpc::PushStream<v1::AlertUpdate> { … };
//   auto* stream = new AlertStream(...);      // deleted by itself when done
//   registry.Add(stream); stream->Pin();      // under the registry's lock
//   … stream->Send(update); stream->Unpin();  // from any thread
//   stream->End(grpc::Status::OK);            // after what is queued
//
// Lifetime: gRPC's reactions keep the stream alive until OnDone, which first
// calls `on_done` (the owner leaves it out of its registry, under the
// registry's lock) and deletes it once no pin holds it. So an owner that
// finds it in the registry may Pin it there and use it after unlocking.
// gRPC actions are taken outside the stream's mutex, because a reaction may
// run inline.
#ifndef POLKU_LIB_RPC_PUSH_STREAM_H_
#define POLKU_LIB_RPC_PUSH_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <cstddef>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/rpc/push_queue.h"
#include "lib/rpc/status.h"

namespace polku::rpc {

// Default bound of the messages waiting for one subscriber.
inline constexpr size_t kDefaultMaxPending = 1000;

template <typename Message>
class PushStream : public grpc::ServerWriteReactor<Message> {
 public:
  explicit PushStream(std::function<void()> on_done,
                      size_t max_pending = kDefaultMaxPending)
      : on_done_(std::move(on_done)), queue_(max_pending) {}

  // Queues `message`; dropped once the stream is ending.
  void Send(Message message) {
    Carry([&](Queue& queue) { return queue.Push(std::move(message)); });
  }

  // Ends with `status` once what is queued has been written.
  void End(const grpc::Status& status) {
    Carry([&](Queue& queue) {
      return queue.CloseAfterPending(FromGrpcStatus(status));
    });
  }

  // Ends at once with `status`, dropping what is queued.
  void Abort(const absl::Status& status) {
    Carry([&](Queue& queue) { return queue.Close(status); });
  }

  void Pin() {
    absl::MutexLock lock(&mu_);
    ++pins_;
  }
  void Unpin() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      --pins_;
      last = done_ && pins_ == 0;
    }
    if (last) delete this;
  }

  void OnWriteDone(bool ok) override {
    Carry([&](Queue& queue) { return queue.WriteDone(ok); });
  }

  void OnCancel() override {
    Carry([&](Queue& queue) {
      return queue.Close(absl::CancelledError("cancelled"));
    });
  }

  void OnDone() override {
    if (on_done_) on_done_();  // leaves the owner's registry: no new pins
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = pins_ == 0;
    }
    if (last) delete this;
  }

 private:
  using Queue = PushQueue<Message>;

  // Takes the queue's next action under the lock (`step` is handed the
  // queue, so that the analysis sees it used under mu_), and carries it out
  // outside it.
  template <typename Step>
  void Carry(Step step) {
    typename PushQueue<Message>::Action action;
    {
      absl::MutexLock lock(&mu_);
      action = step(queue_);
    }
    if (action.write != nullptr) this->StartWrite(action.write);
    if (action.finish.has_value()) this->Finish(ToGrpcStatus(*action.finish));
  }

  const std::function<void()> on_done_;
  absl::Mutex mu_;
  PushQueue<Message> queue_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int pins_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_PUSH_STREAM_H_
