// CustomerKeyService through a real gRPC server: the hash is the one the
// events are stored under (CustomerHasher), per tenant, and a call without
// a tenant or a customer is refused.
#include "services/feedback/customer_key_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "lib/rpc/metadata.h"

namespace polku::feedback {
namespace {

class CustomerKeyServiceTest : public testing::Test {
 protected:
  CustomerKeyServiceTest()
      : hasher_(std::string(kMasterSecretBytes, 's')), service_(hasher_) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::CustomerKeyService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~CustomerKeyServiceTest() override { server_->Shutdown(); }

  grpc::Status Hash(const std::string& tenant, const std::string& customer,
                    std::string* hash) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    if (!tenant.empty()) context.AddMetadata(rpc::kTenantHeader, tenant);
    v1::HashCustomerRequest request;
    request.set_customer(customer);
    v1::HashCustomerResponse response;
    grpc::Status status = stub_->HashCustomer(&context, request, &response);
    *hash = response.customer_hash();
    return status;
  }

  CustomerHasher hasher_;
  CustomerKeyServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::CustomerKeyService::Stub> stub_;
};

TEST_F(CustomerKeyServiceTest, TheHashIsTheStoredOneOfTheCallersTenant) {
  std::string acme, globex;
  ASSERT_TRUE(Hash("acme", "customer-42", &acme).ok());
  ASSERT_TRUE(Hash("globex", "customer-42", &globex).ok());
  EXPECT_EQ(acme, hasher_.Hash("acme", "customer-42"));
  EXPECT_EQ(acme.size(), 64u);
  EXPECT_NE(acme, globex);
}

TEST_F(CustomerKeyServiceTest, RefusesWithoutATenantOrACustomer) {
  std::string hash;
  EXPECT_EQ(Hash("", "customer-42", &hash).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status empty = Hash("acme", "", &hash);
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(empty.error_message(), "customer: must not be empty");
  EXPECT_TRUE(hash.empty());
}

}  // namespace
}  // namespace polku::feedback
