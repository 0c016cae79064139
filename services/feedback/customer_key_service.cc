#include "services/feedback/customer_key_service.h"

#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"

namespace polku::feedback {

grpc::ServerUnaryReactor* CustomerKeyServiceImpl::HashCustomer(
    grpc::CallbackServerContext* context,
    const v1::HashCustomerRequest* request,
    v1::HashCustomerResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) {
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  if (request->customer().empty()) {
    reactor->Finish(rpc::ToGrpcStatus(
        absl::InvalidArgumentError("customer: must not be empty")));
    return reactor;
  }
  response->set_customer_hash(
      hasher_.Hash(caller->tenant, request->customer()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace polku::feedback
