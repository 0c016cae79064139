#include "gateway/admin_api.h"

#include <google/protobuf/util/time_util.h>

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"

namespace polku::gateway {
namespace {

constexpr absl::string_view kTenantsPrefix = "tenants/";
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

google::protobuf::Timestamp ToProto(absl::Time time) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(time));
}

v1::Tenant ToProto(const keys::TenantRecord& record) {
  v1::Tenant tenant;
  tenant.set_name(absl::StrCat(kTenantsPrefix, record.id));
  tenant.set_display_name(record.display_name);
  *tenant.mutable_create_time() = ToProto(record.create_time);
  return tenant;
}

v1::ApiKey ToProto(const keys::KeyRecord& record) {
  v1::ApiKey key;
  key.set_name(
      absl::StrCat(kTenantsPrefix, record.tenant, "/apiKeys/", record.key_id));
  key.set_display_name(record.display_name);
  for (const std::string& scope : record.scopes) key.add_scopes(scope);
  key.set_channel(record.channel);
  *key.mutable_create_time() = ToProto(record.create_time);
  if (record.revoke_time.has_value()) {
    *key.mutable_revoke_time() = ToProto(*record.revoke_time);
  }
  return key;
}

absl::StatusOr<int> PageSize(int32_t requested, absl::string_view field) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be negative"));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min<int>(requested, kMaxPageSize);
}

// The tenant id in `tenants/{tenant}`, if the caller may administer it.
// Another tenant is PERMISSION_DENIED whether or not it exists.
absl::StatusOr<std::string> ParentTenant(const keys::Principal& caller,
                                         absl::string_view parent,
                                         absl::string_view field) {
  if (!absl::ConsumePrefix(&parent, kTenantsPrefix) ||
      !keys::IsValidName(parent)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be tenants/{tenant}"));
  }
  if (!caller.IsSuperAdmin() && caller.tenant != parent) {
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": the API key does not administer ", parent));
  }
  return std::string(parent);
}

template <typename Request, typename Response>
absl::StatusOr<std::string> Run(
    absl::string_view bytes,
    const std::function<absl::StatusOr<Response>(const Request&)>& handler) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request is not a valid ", Request::descriptor()->full_name()));
  }
  POLKU_ASSIGN_OR_RETURN(Response response, handler(request));
  return response.SerializeAsString();
}

}  // namespace

absl::StatusOr<std::string> AdminApi::Invoke(const keys::Principal& caller,
                                             absl::string_view method,
                                             absl::string_view request) {
  if (method == "/polku.v1.AdminService/CreateTenant") {
    return Run<v1::CreateTenantRequest, v1::Tenant>(
        request, [&](const auto& r) { return CreateTenant(caller, r); });
  }
  if (method == "/polku.v1.AdminService/ListTenants") {
    return Run<v1::ListTenantsRequest, v1::ListTenantsResponse>(
        request, [&](const auto& r) { return ListTenants(caller, r); });
  }
  if (method == "/polku.v1.AdminService/CreateApiKey") {
    return Run<v1::CreateApiKeyRequest, v1::CreateApiKeyResponse>(
        request, [&](const auto& r) { return CreateApiKey(caller, r); });
  }
  if (method == "/polku.v1.AdminService/ListApiKeys") {
    return Run<v1::ListApiKeysRequest, v1::ListApiKeysResponse>(
        request, [&](const auto& r) { return ListApiKeys(caller, r); });
  }
  if (method == "/polku.v1.AdminService/RevokeApiKey") {
    return Run<v1::RevokeApiKeyRequest, v1::ApiKey>(
        request, [&](const auto& r) { return RevokeApiKey(caller, r); });
  }
  return absl::UnimplementedError(
      absl::StrCat("method ", method, " is not served by the gateway"));
}

absl::StatusOr<v1::Tenant> AdminApi::CreateTenant(
    const keys::Principal& caller, const v1::CreateTenantRequest& request) {
  if (!caller.IsSuperAdmin()) {
    return absl::PermissionDeniedError(
        "only the super-admin key creates tenants");
  }
  POLKU_ASSIGN_OR_RETURN(keys::TenantRecord record,
                         store_.CreateTenant(request.tenant_id(),
                                             request.tenant().display_name()));
  return ToProto(record);
}

absl::StatusOr<v1::ListTenantsResponse> AdminApi::ListTenants(
    const keys::Principal& caller, const v1::ListTenantsRequest& request) {
  if (!caller.IsSuperAdmin()) {
    return absl::PermissionDeniedError(
        "only the super-admin key lists tenants");
  }
  POLKU_ASSIGN_OR_RETURN(int limit, PageSize(request.page_size(), "page_size"));
  POLKU_ASSIGN_OR_RETURN(std::vector<keys::TenantRecord> tenants,
                         store_.ListTenants(request.page_token(), limit + 1));
  v1::ListTenantsResponse response;
  for (int i = 0; i < static_cast<int>(tenants.size()) && i < limit; ++i) {
    *response.add_tenants() = ToProto(tenants[i]);
  }
  if (static_cast<int>(tenants.size()) > limit) {
    response.set_next_page_token(tenants[limit - 1].id);
  }
  return response;
}

absl::StatusOr<v1::CreateApiKeyResponse> AdminApi::CreateApiKey(
    const keys::Principal& caller, const v1::CreateApiKeyRequest& request) {
  POLKU_ASSIGN_OR_RETURN(std::string tenant,
                         ParentTenant(caller, request.parent(), "parent"));
  const v1::ApiKey& wanted = request.api_key();
  std::set<std::string> scopes(wanted.scopes().begin(), wanted.scopes().end());
  POLKU_ASSIGN_OR_RETURN(keys::IssuedKey issued,
                         store_.CreateKey(tenant, wanted.display_name(), scopes,
                                          wanted.channel()));
  v1::CreateApiKeyResponse response;
  *response.mutable_api_key() = ToProto(issued.record);
  response.set_key(issued.key);
  return response;
}

absl::StatusOr<v1::ListApiKeysResponse> AdminApi::ListApiKeys(
    const keys::Principal& caller, const v1::ListApiKeysRequest& request) {
  POLKU_ASSIGN_OR_RETURN(std::string tenant,
                         ParentTenant(caller, request.parent(), "parent"));
  POLKU_ASSIGN_OR_RETURN(int limit, PageSize(request.page_size(), "page_size"));
  POLKU_ASSIGN_OR_RETURN(std::vector<keys::KeyRecord> records,
                         store_.ListKeys(tenant, request.page_token(),
                                         limit + 1, request.show_revoked()));
  v1::ListApiKeysResponse response;
  for (int i = 0; i < static_cast<int>(records.size()) && i < limit; ++i) {
    *response.add_api_keys() = ToProto(records[i]);
  }
  if (static_cast<int>(records.size()) > limit) {
    response.set_next_page_token(records[limit - 1].key_id);
  }
  return response;
}

absl::StatusOr<v1::ApiKey> AdminApi::RevokeApiKey(
    const keys::Principal& caller, const v1::RevokeApiKeyRequest& request) {
  // tenants/{tenant}/apiKeys/{key_id}
  std::vector<absl::string_view> parts = absl::StrSplit(request.name(), '/');
  if (parts.size() != 4 || parts[0] != "tenants" || parts[2] != "apiKeys" ||
      parts[3].empty()) {
    return absl::InvalidArgumentError(
        "name: must be tenants/{tenant}/apiKeys/{key_id}");
  }
  POLKU_ASSIGN_OR_RETURN(
      std::string tenant,
      ParentTenant(caller, absl::StrCat(kTenantsPrefix, parts[1]), "name"));
  POLKU_ASSIGN_OR_RETURN(keys::KeyRecord record,
                         store_.RevokeKey(tenant, parts[3]));
  return ToProto(record);
}

}  // namespace polku::gateway
