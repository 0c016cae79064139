#include "services/insight/server/drivers_service.h"

#include "lib/rpc/unary.h"

namespace polku::insight {

grpc::ServerUnaryReactor* DriversServiceImpl::GetKeyDrivers(
    grpc::CallbackServerContext* context,
    const v1::GetKeyDriversRequest* request, v1::KeyDrivers* response) {
  return rpc::RunUnary<v1::KeyDrivers>(
      context, response, executor_,
      [this, request](const rpc::Caller& caller) -> absl::StatusOr<v1::KeyDrivers> {
        const v1::Scope& scope = request->scope();
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
              "journey definitions are unavailable (no polku-journey "
              "configured)");
        }
        // Drivers are listed from the version asked for (latest for 0, whose
        // rename chains also map older keys).
        absl::StatusOr<v1::Journey> journey = options_.journeys->Journey(
            caller.tenant, scope.journey(), scope.journey_version());
        if (!journey.ok()) return journey.status();
        return ComputeKeyDrivers(ledger_, caller.tenant, *request, *journey,
                                 options_.analysis, options_.touches);
      });
}

}  // namespace polku::insight
