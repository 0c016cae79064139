#include "services/insight/server/funnels_service.h"

#include "lib/rpc/unary.h"
#include "services/insight/analytics/funnel.h"

namespace polku::insight {

absl::StatusOr<v1::Journey> FunnelsServiceImpl::JourneyOf(
    const std::string& tenant, const v1::Scope& scope) {
  if (scope.journey().empty()) {
    return absl::InvalidArgumentError(
        "scope.journey: required (the journey key)");
  }
  if (scope.journey_version() < 0) {
    return absl::InvalidArgumentError(
        "scope.journey_version: must be 0 (every version) or a version "
        "number");
  }
  if (options_.journeys == nullptr) {
    return absl::UnavailableError(
        "journey definitions are unavailable (no polku-journey configured)");
  }
  return options_.journeys->Journey(tenant, scope.journey(),
                                    scope.journey_version());
}

grpc::ServerUnaryReactor* FunnelsServiceImpl::GetFunnel(
    grpc::CallbackServerContext* context, const v1::GetFunnelRequest* request,
    v1::Funnel* response) {
  return rpc::RunUnary<v1::Funnel>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller) -> absl::StatusOr<v1::Funnel> {
        absl::StatusOr<v1::Journey> journey =
            JourneyOf(caller.tenant, request->scope());
        if (!journey.ok()) return journey.status();
        return ComputeFunnel(ledger_, caller.tenant, *request, *journey,
                             options_.clock->Now(), options_.touches);
      });
}

grpc::ServerUnaryReactor* FunnelsServiceImpl::GetPaths(
    grpc::CallbackServerContext* context, const v1::GetPathsRequest* request,
    v1::Paths* response) {
  return rpc::RunUnary<v1::Paths>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller) -> absl::StatusOr<v1::Paths> {
        absl::StatusOr<v1::Journey> journey =
            JourneyOf(caller.tenant, request->scope());
        if (!journey.ok()) return journey.status();
        return ComputePaths(ledger_, caller.tenant, *request, *journey,
                            options_.clock->Now(), options_.touches);
      });
}

}  // namespace polku::insight
