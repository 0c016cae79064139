#include "gateway/admin_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/keys/sqlite_key_store.h"

namespace polku::gateway {
namespace {

using ::testing::HasSubstr;

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest()
      : store_(*keys::SqliteKeyStore::Open(":memory:")), api_(*store_) {
    super_admin_ = *store_->Authenticate(store_->CreateSuperAdminKey()->key);
    v1::CreateTenantRequest request;
    request.set_tenant_id("demo");
    EXPECT_TRUE(api_.CreateTenant(super_admin_, request).ok());
    request.set_tenant_id("other");
    EXPECT_TRUE(api_.CreateTenant(super_admin_, request).ok());
    demo_admin_ = *store_->Authenticate(
        store_->CreateKey("demo", "", {keys::kScopeAdmin}, "")->key);
  }

  static v1::CreateApiKeyRequest KeyRequest(const std::string& tenant,
                                            std::vector<std::string> scopes,
                                            const std::string& channel = "") {
    v1::CreateApiKeyRequest request;
    request.set_parent("tenants/" + tenant);
    for (const std::string& scope : scopes) {
      request.mutable_api_key()->add_scopes(scope);
    }
    request.mutable_api_key()->set_channel(channel);
    return request;
  }

  std::unique_ptr<keys::SqliteKeyStore> store_;
  AdminApi api_;
  keys::Principal super_admin_;
  keys::Principal demo_admin_;
};

TEST_F(AdminApiTest, OnlyTheSuperAdminCreatesAndListsTenants) {
  v1::CreateTenantRequest request;
  request.set_tenant_id("acme");
  EXPECT_EQ(api_.CreateTenant(demo_admin_, request).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(api_.ListTenants(demo_admin_, {}).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto tenant = api_.CreateTenant(super_admin_, request);
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  EXPECT_EQ(tenant->name(), "tenants/acme");
  EXPECT_EQ(api_.CreateTenant(super_admin_, request).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto tenants = api_.ListTenants(super_admin_, {});
  ASSERT_TRUE(tenants.ok());
  EXPECT_EQ(tenants->tenants_size(), 3);
}

TEST_F(AdminApiTest, TenantAdminManagesItsOwnKeysOnly) {
  auto created = api_.CreateApiKey(
      demo_admin_, KeyRequest("demo", {keys::kScopeEventsWrite}, "shop"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(keys::IsWellFormedKey(created->key()));
  EXPECT_THAT(created->api_key().name(), HasSubstr("tenants/demo/apiKeys/"));
  EXPECT_EQ(created->api_key().channel(), "shop");

  auto other = api_.CreateApiKey(
      demo_admin_, KeyRequest("other", {keys::kScopeJourneysRead}));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  v1::ListApiKeysRequest list;
  list.set_parent("tenants/other");
  EXPECT_EQ(api_.ListApiKeys(demo_admin_, list).status().code(),
            absl::StatusCode::kPermissionDenied);

  // The listing never shows a key, only its name and id.
  list.set_parent("tenants/demo");
  auto listed = api_.ListApiKeys(demo_admin_, list);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->api_keys_size(), 2);
  EXPECT_THAT(listed->DebugString(),
              testing::Not(HasSubstr(created->key().substr(6, 16))));
}

TEST_F(AdminApiTest, RevokedKeyStopsWorkingAtOnce) {
  auto created = *api_.CreateApiKey(
      demo_admin_, KeyRequest("demo", {keys::kScopeJourneysRead}));
  ASSERT_TRUE(store_->Authenticate(created.key()).ok());
  v1::RevokeApiKeyRequest revoke;
  revoke.set_name(created.api_key().name());
  auto revoked = api_.RevokeApiKey(demo_admin_, revoke);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->has_revoke_time());
  EXPECT_EQ(store_->Authenticate(created.key()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AdminApiTest, BadRequestsNameTheField) {
  auto bad_parent = api_.CreateApiKey(
      demo_admin_, KeyRequest("Demo!", {keys::kScopeJourneysRead}));
  EXPECT_THAT(bad_parent.status().message(), HasSubstr("parent:"));
  auto bad_scope = api_.CreateApiKey(demo_admin_, KeyRequest("demo", {"root"}));
  EXPECT_EQ(bad_scope.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_scope.status().message(), HasSubstr("api_key.scopes:"));
  v1::RevokeApiKeyRequest revoke;
  revoke.set_name("demo/1234");
  EXPECT_THAT(api_.RevokeApiKey(demo_admin_, revoke).status().message(),
              HasSubstr("name:"));
}

TEST_F(AdminApiTest, InvokeRunsSerializedRequests) {
  std::string bytes =
      KeyRequest("demo", {keys::kScopeInsightsRead}).SerializeAsString();
  auto response =
      api_.Invoke(demo_admin_, "/polku.v1.AdminService/CreateApiKey", bytes);
  ASSERT_TRUE(response.ok()) << response.status();
  v1::CreateApiKeyResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(*response));
  EXPECT_TRUE(store_->Authenticate(parsed.key()).ok());
  EXPECT_EQ(api_.Invoke(demo_admin_, "/polku.v1.AdminService/Nope", "")
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace polku::gateway
