// A fixed pool of threads that runs tasks in FIFO order.
//
// gRPC callback handlers must never block, so blocking work (a database
// read, a file write) is handed to an Executor and the handler returns:
//
//   ServerUnaryReactor* Get(CallbackServerContext* ctx, const Req* req, Resp* resp) {
//     auto* reactor = ctx->DefaultReactor();
//     executor_.Schedule([=] { reactor->Finish(ToGrpc(store_->Get(*req, resp))); });
//     return reactor;
//   }
#ifndef POLKU_LIB_BASE_EXECUTOR_H_
#define POLKU_LIB_BASE_EXECUTOR_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace polku {

class Executor {
 public:
  // Starts `threads` worker threads.
  explicit Executor(int threads);
  // Runs every task already scheduled, then joins the threads.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`. Tasks scheduled after destruction began are dropped, with
  // an error logged.
  void Schedule(std::function<void()> task);

  // Tasks queued and not yet started.
  size_t QueueDepth() const;

 private:
  void Work();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace polku

#endif  // POLKU_LIB_BASE_EXECUTOR_H_
