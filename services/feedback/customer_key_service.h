// CustomerKeyService (protos/polku/v1/customer_keys.proto): the hash
// polku-feedback keys a customer's events with, for polku-cases'
// SetContactConsent, so that the secret stays here. Internal: the gateway
// does not route it, and with mTLS only polku-cases may call it, for one
// tenant (lib/rpc/trust.cc). Hashing is a few microseconds: answered inline.
//
//   CustomerKeyServiceImpl keys(group_commit_store.hasher());
//   rpc::Server::Start({.services = {&feedback_service, &keys}, …});
#ifndef POLKU_SERVICES_FEEDBACK_CUSTOMER_KEY_SERVICE_H_
#define POLKU_SERVICES_FEEDBACK_CUSTOMER_KEY_SERVICE_H_

#include "polku/v1/customer_keys.grpc.pb.h"
#include "services/feedback/customer_hasher.h"

namespace polku::feedback {

class CustomerKeyServiceImpl final
    : public v1::CustomerKeyService::CallbackService {
 public:
  // `hasher` must outlive the service.
  explicit CustomerKeyServiceImpl(const CustomerHasher& hasher)
      : hasher_(hasher) {}

  // The calling tenant's hash of the customer; UNAUTHENTICATED without a
  // tenant (a hash is only ever of one tenant), INVALID_ARGUMENT for an
  // empty reference.
  grpc::ServerUnaryReactor* HashCustomer(
      grpc::CallbackServerContext* context,
      const v1::HashCustomerRequest* request,
      v1::HashCustomerResponse* response) override;

 private:
  const CustomerHasher& hasher_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_CUSTOMER_KEY_SERVICE_H_
