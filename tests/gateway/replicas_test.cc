// Two polku-gateway processes sharing one PostgreSQL key store, against the
// real binaries and a real PostgreSQL: a key revoked through one gateway is
// refused by the other within the refresh bound (docs/gateway.md), a key
// issued through one is usable through the other, and of the two gateways
// starting on one database only one issues the bootstrap super-admin key.
// polku-keys init wrote the starting keys into PostgreSQL as well.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/keys/demo_credentials.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;
using ::testing::HasSubstr;

// The gateways refresh every second (--key_refresh_interval's default);
// the bound leaves room for a loaded machine.
constexpr absl::Duration kBound = absl::Seconds(5);

class GatewayReplicasTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Suite::Options options;
    options.database = Suite::Database::kPostgres;
    options.gateway_replicas = 2;
    auto suite = Suite::Start(options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = suite->release();
  }

  static void TearDownTestSuite() {
    if (suite_ != nullptr) {
      EXPECT_EQ(suite_->Stop(), absl::OkStatus());
      delete suite_;
      suite_ = nullptr;
    }
  }

  // ListJourneys through gateway `replica` with `key`: what authentication
  // made of the key.
  static grpc::StatusCode ListJourneys(int replica, const std::string& key) {
    auto stub = v1::JourneyService::NewStub(
        suite_->Dial(suite_->gateway_grpc_address(replica)));
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    v1::ListJourneysResponse response;
    return stub->ListJourneys(&context, {}, &response).error_code();
  }

  // How long until ListJourneys through `replica` with `key` answers
  // `code`; InfiniteDuration if not within the bound (polled).
  static absl::Duration Until(int replica, const std::string& key,
                              grpc::StatusCode code) {
    const absl::Time start = absl::Now();
    while (absl::Now() - start < kBound) {
      if (ListJourneys(replica, key) == code) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::InfiniteDuration();
  }

  static v1::CreateApiKeyResponse CreateKey(int replica,
                                            const std::string& scope) {
    auto admin = v1::AdminService::NewStub(
        suite_->Dial(suite_->gateway_grpc_address(replica)));
    grpc::ClientContext context;
    Suite::Authorize(context, suite_->credentials().admin_key);
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/demo");
    request.mutable_api_key()->add_scopes(scope);
    v1::CreateApiKeyResponse response;
    grpc::Status status = admin->CreateApiKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static Suite* suite_;
};

Suite* GatewayReplicasTest::suite_ = nullptr;

TEST_F(GatewayReplicasTest, KeysFromPolkuKeysInitWorkThroughEveryGateway) {
  auto credentials =
      gateway::keys::ReadCredentials(suite_->data_dir() + "/credentials.json");
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  for (int replica : {1, 2}) {
    EXPECT_EQ(ListJourneys(replica, suite_->credentials().admin_key), grpc::OK)
        << "gateway " << replica;
    EXPECT_EQ(ListJourneys(replica, credentials->insights_key), grpc::OK)
        << "gateway " << replica;
  }
}

TEST_F(GatewayReplicasTest, AKeyIssuedThroughOneGatewayWorksThroughTheOther) {
  v1::CreateApiKeyResponse created = CreateKey(1, "journeys:read");
  EXPECT_EQ(ListJourneys(1, created.key()), grpc::OK);  // At once here.
  absl::Duration took = Until(2, created.key(), grpc::OK);
  EXPECT_LT(took, kBound) << "the other gateway never accepted the new key";
}

TEST_F(GatewayReplicasTest, AKeyRevokedThroughOneGatewayIsRefusedByTheOther) {
  v1::CreateApiKeyResponse created = CreateKey(2, "journeys:read");
  ASSERT_LT(Until(1, created.key(), grpc::OK), kBound);
  ASSERT_EQ(ListJourneys(2, created.key()), grpc::OK);

  // Revoked over HTTP through gateway 1.
  httplib::Client http(suite_->gateway_http_host(),
                       suite_->gateway_http_port(1));
  httplib::Result revoked = http.Post(
      absl::StrCat("/v1/", created.api_key().name(), ":revoke").c_str(),
      {{"Authorization", "Bearer " + suite_->credentials().admin_key}}, "{}",
      "application/json");
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->status, 200) << revoked->body;
  EXPECT_EQ(ListJourneys(1, created.key()), grpc::UNAUTHENTICATED);

  absl::Duration took = Until(2, created.key(), grpc::UNAUTHENTICATED);
  EXPECT_LT(took, kBound) << "gateway 2 still accepts the revoked key";
  // And over HTTP too.
  httplib::Client other(suite_->gateway_http_host(),
                        suite_->gateway_http_port(2));
  httplib::Result refused =
      other.Get("/v1/journeys", {{"Authorization", "Bearer " + created.key()}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401) << refused->body;
}

TEST_F(GatewayReplicasTest, OnlyOneGatewayIssuesTheSuperAdminKey) {
  // Gateway 1 started first and issued it into its data directory; the
  // second found it in the shared store and issued none.
  std::ifstream in(suite_->data_dir() + "/superadmin.key");
  std::string key((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  key = std::string(absl::StripAsciiWhitespace(key));
  ASSERT_FALSE(key.empty());
  EXPECT_FALSE(std::filesystem::exists(suite_->data_dir() +
                                       "/gateway-2/superadmin.key"));
  EXPECT_THAT(suite_->Log("polku-gateway#2"),
              HasSubstr("a super-admin key exists"));
  // The one key administers tenants through either gateway.
  for (int replica : {1, 2}) {
    auto admin = v1::AdminService::NewStub(
        suite_->Dial(suite_->gateway_grpc_address(replica)));
    grpc::ClientContext context;
    Suite::Authorize(context, key);
    v1::ListTenantsResponse tenants;
    grpc::Status status = admin->ListTenants(&context, {}, &tenants);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(tenants.tenants_size(), 1);
  }
}

}  // namespace
}  // namespace polku
