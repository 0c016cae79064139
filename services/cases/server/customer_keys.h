// The key polku-cases matches a customer by: polku-feedback's keyed hash of
// the customer reference (StoredEvent.customer_hash). polku-cases never
// holds the hashing secret; for SetContactConsent it asks polku-feedback's
// internal CustomerKeyService (protos/polku/v1/customer_keys.proto) for the
// one customer named, for the caller's tenant.
//
//   GrpcCustomerKeys keys(feedback_channel);
//   absl::StatusOr<std::string> hash = keys.Hash(caller, "customer-42", deadline);
#ifndef POLKU_SERVICES_CASES_SERVER_CUSTOMER_KEYS_H_
#define POLKU_SERVICES_CASES_SERVER_CUSTOMER_KEYS_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/customer_keys.grpc.pb.h"

namespace polku::cases {

class CustomerKeys {
 public:
  virtual ~CustomerKeys() = default;
  // The customer's hash under the caller's tenant's key. Blocks until
  // answered or `deadline`.
  virtual absl::StatusOr<std::string> Hash(const rpc::Caller& caller,
                                           const std::string& customer,
                                           absl::Time deadline) = 0;
};

class GrpcCustomerKeys final : public CustomerKeys {
 public:
  explicit GrpcCustomerKeys(std::shared_ptr<grpc::Channel> feedback)
      : stub_(v1::CustomerKeyService::NewStub(std::move(feedback))) {}

  absl::StatusOr<std::string> Hash(const rpc::Caller& caller,
                                   const std::string& customer,
                                   absl::Time deadline) override;

 private:
  std::unique_ptr<v1::CustomerKeyService::Stub> stub_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_CUSTOMER_KEYS_H_
