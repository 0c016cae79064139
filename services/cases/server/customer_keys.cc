#include "services/cases/server/customer_keys.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"

namespace polku::cases {

absl::StatusOr<std::string> GrpcCustomerKeys::Hash(const rpc::Caller& caller,
                                                   const std::string& customer,
                                                   absl::Time deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  // For the one tenant the call is for (the trust table allows no other).
  rpc::Caller for_tenant{.tenant = caller.tenant,
                         .request_id = caller.request_id};
  rpc::AttachCaller(for_tenant, context);
  v1::HashCustomerRequest request;
  request.set_customer(customer);
  v1::HashCustomerResponse response;
  grpc::Status status = stub_->HashCustomer(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("polku-feedback HashCustomer: ",
                                     status.error_message()));
  }
  if (response.customer_hash().empty()) {
    return absl::InternalError("polku-feedback HashCustomer: an empty hash");
  }
  return response.customer_hash();
}

}  // namespace polku::cases
