#include "lib/base/executor.h"

#include <utility>

#include "lib/base/log.h"

namespace polku {

Executor::Executor(int threads) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void Executor::Schedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    // A dropped task may be the one that finishes an RPC, which would then
    // hang the server's drain: make the wiring mistake visible.
    log::Error("task scheduled on a stopping executor was dropped");
    return;
  }
  queue_.push_back(std::move(task));
}

size_t Executor::QueueDepth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void Executor::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Executor* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
            return e->stopping_ || !e->queue_.empty();
          },
          this));
      // Drain what was queued before stopping, so no accepted work is lost.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace polku
