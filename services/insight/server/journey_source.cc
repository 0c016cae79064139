#include "services/insight/server/journey_source.h"

#include <grpcpp/client_context.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"

namespace polku::insight {

GrpcJourneySource::GrpcJourneySource(std::shared_ptr<grpc::Channel> channel,
                                     absl::Duration timeout)
    : stub_(v1::JourneyService::NewStub(std::move(channel))),
      timeout_(timeout) {}

absl::StatusOr<v1::Journey> GrpcJourneySource::Journey(
    absl::string_view tenant, absl::string_view key, int32_t version) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // polku-journey answers only within the tenant the gateway vouched for.
  rpc::AttachCaller({.tenant = std::string(tenant)}, context);
  v1::GetJourneyRequest request;
  request.set_key(std::string(key));
  request.set_version(version);
  v1::Journey journey;
  const grpc::Status status = stub_->GetJourney(&context, request, &journey);
  if (status.ok()) return journey;
  const absl::Status error = rpc::FromGrpcStatus(status);
  if (error.code() == absl::StatusCode::kNotFound ||
      error.code() == absl::StatusCode::kInvalidArgument) {
    return error;  // polku-journey's own words name the journey or version
  }
  return absl::Status(error.code(),
                      absl::StrCat("journey \"", key,
                                   "\" is unavailable (polku-journey: ",
                                   error.message(), ")"));
}

}  // namespace polku::insight
