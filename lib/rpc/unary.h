// The one way a callback-API handler answers a unary call with blocking work
// (a database read, a call to another service): off the gRPC thread, on an
// executor, for the caller the gateway vouched for.
//
//   grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext*
//   context,
//                                          const Request* request,
//                                          Response* response) override {
//     return rpc::RunUnary<Response>(context, response, executor_,
//         [this, request](const rpc::Caller& caller) ->
//         absl::StatusOr<Response> {
//           return Compute(caller.tenant, *request);
//         });
//   }
//
// Without a tenant the call is UNAUTHENTICATED (unless `allow_internal`)
// before anything is queued. A caller that gave up (cancelled, or its
// deadline passed) while the call waited in the queue gets CANCELLED and no
// work is done for it.
#ifndef POLKU_LIB_RPC_UNARY_H_
#define POLKU_LIB_RPC_UNARY_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "lib/base/executor.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"

namespace polku::rpc {

template <typename Response>
grpc::ServerUnaryReactor* RunUnary(
    grpc::CallbackServerContext* context, Response* response,
    Executor& executor,
    std::function<absl::StatusOr<Response>(const Caller& caller)> work,
    bool allow_internal = false) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Caller> caller = CallerFrom(*context, allow_internal);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  executor.Schedule([context, response, reactor, work = std::move(work),
                     caller = *std::move(caller)] {
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    absl::StatusOr<Response> answer = work(caller);
    if (answer.ok()) *response = *std::move(answer);
    reactor->Finish(ToGrpcStatus(answer.status()));
  });
  return reactor;
}

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_UNARY_H_
