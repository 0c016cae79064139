#include "services/insight/server/themes_service.h"

#include "lib/rpc/unary.h"
#include "services/insight/analytics/themes.h"

namespace polku::insight {

absl::StatusOr<TouchpointSuccessors> ThemesServiceImpl::SuccessorsFor(
    const std::string& tenant, const v1::Scope& scope) {
  if (options_.lineage == nullptr || scope.journey_version() != 0 ||
      scope.journey().empty() ||
      (scope.touchpoint().empty() && scope.touchpoints().empty())) {
    return TouchpointSuccessors();
  }
  return options_.lineage->Successors(tenant, scope.journey());
}

grpc::ServerUnaryReactor* ThemesServiceImpl::GetThemes(
    grpc::CallbackServerContext* context, const v1::GetThemesRequest* request,
    v1::Themes* response) {
  return rpc::RunUnary<v1::Themes>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller) -> absl::StatusOr<v1::Themes> {
        absl::StatusOr<TouchpointSuccessors> successors =
            SuccessorsFor(caller.tenant, request->scope());
        if (!successors.ok()) return successors.status();
        return ComputeThemes(*options_.index, caller.tenant, *request,
                             *successors);
      });
}

grpc::ServerUnaryReactor* ThemesServiceImpl::ListThemeExamples(
    grpc::CallbackServerContext* context,
    const v1::ListThemeExamplesRequest* request,
    v1::ListThemeExamplesResponse* response) {
  return rpc::RunUnary<v1::ListThemeExamplesResponse>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller)
          -> absl::StatusOr<v1::ListThemeExamplesResponse> {
        absl::StatusOr<TouchpointSuccessors> successors =
            SuccessorsFor(caller.tenant, request->scope());
        if (!successors.ok()) return successors.status();
        return insight::ListThemeExamples(*options_.index, caller.tenant,
                                          *request, *successors);
      });
}

}  // namespace polku::insight
