#include "services/insight/insight_service.h"

#include <utility>

#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "services/insight/scorecard.h"

namespace polku::insight {

grpc::ServerUnaryReactor* InsightServiceImpl::GetScorecard(
    grpc::CallbackServerContext* context,
    const v1::GetScorecardRequest* request, v1::Scorecard* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) {
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  RollupStore* store = &store_;
  executor_.Schedule([store, context, request, response, reactor,
                      tenant = std::move(caller->tenant)] {
    // A caller that gave up while the call was queued gets no query.
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    absl::StatusOr<v1::Scorecard> card =
        ComputeScorecard(*store, tenant, *request);
    if (card.ok()) *response = *std::move(card);
    reactor->Finish(rpc::ToGrpcStatus(card.status()));
  });
  return reactor;
}

}  // namespace polku::insight
