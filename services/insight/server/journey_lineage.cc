#include "services/insight/server/journey_lineage.h"

#include <grpcpp/client_context.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"

namespace polku::insight {


GrpcJourneyLineage::GrpcJourneyLineage(std::shared_ptr<grpc::Channel> channel,
                                       absl::Duration timeout)
    : stub_(v1::JourneyService::NewStub(std::move(channel))),
      timeout_(timeout) {}

absl::StatusOr<TouchpointSuccessors> GrpcJourneyLineage::Successors(
    absl::string_view tenant, absl::string_view journey) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  // The tenant the gateway vouched for, passed on: polku-journey answers
  // only within it.
  rpc::AttachCaller({.tenant = std::string(tenant)}, context);
  v1::GetJourneyRequest request;
  request.set_key(std::string(journey));
  v1::Journey latest;
  grpc::Status status = stub_->GetJourney(&context, request, &latest);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
      status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return TouchpointSuccessors();  // no such journey: nothing was renamed
  }
  if (!status.ok()) {
    absl::Status error = rpc::FromGrpcStatus(status);
    return absl::Status(error.code(),
                        absl::StrCat("the rename chain of journey \"", journey,
                                     "\" is unavailable (polku-journey: ",
                                     error.message(), ")"));
  }
  return SuccessorsOf(latest);
}

}  // namespace polku::insight
