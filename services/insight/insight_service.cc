#include "services/insight/insight_service.h"

#include <utility>

#include "lib/base/log.h"
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
  JourneyLineage* lineage = lineage_;
  executor_.Schedule([store, lineage, context, request, response, reactor,
                      tenant = std::move(caller->tenant)] {
    // A caller that gave up while the call was queued gets no query.
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    TouchpointSuccessors successors;
    const bool by_touchpoint =
        request->group_by() == v1::GROUP_BY_UNSPECIFIED ||
        request->group_by() == v1::GROUP_BY_TOUCHPOINT;
    if (lineage != nullptr && request->journey_version() == 0 &&
        by_touchpoint && !request->journey().empty()) {
      absl::StatusOr<TouchpointSuccessors> chain =
          lineage->Successors(tenant, request->journey());
      if (chain.ok()) {
        successors = *std::move(chain);
      } else {
        // Still right, only less merged: rows under a renamed touchpoint's
        // earlier keys stay apart until polku-journey answers again.
        log::Warning("scorecard without the rename chain",
                     {{"journey", request->journey()},
                      {"error", chain.status().ToString()}});
      }
    }
    absl::StatusOr<v1::Scorecard> card =
        ComputeScorecard(*store, tenant, *request, successors);
    if (card.ok()) *response = *std::move(card);
    reactor->Finish(rpc::ToGrpcStatus(card.status()));
  });
  return reactor;
}

}  // namespace polku::insight
