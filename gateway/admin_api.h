// polku.v1.AdminService, served by the gateway itself from its key store.
// The gRPC proxy and the HTTP gateway both call Invoke with the caller's
// principal (already authorized for the method by authz.h); Invoke checks
// that the named tenant is the caller's own unless the caller is the
// super-admin.
//
//   AdminApi admin(key_store);
//   absl::StatusOr<std::string> response = admin.Invoke(
//       principal, "/polku.v1.AdminService/CreateApiKey", request_bytes);
//
// Store calls block (SQLite or PostgreSQL), so callers run Invoke off the
// gRPC threads.
#ifndef POLKU_GATEWAY_ADMIN_API_H_
#define POLKU_GATEWAY_ADMIN_API_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/keys/key_store.h"
#include "polku/v1/admin.pb.h"

namespace polku::gateway {

class AdminApi {
 public:
  // `store` must outlive the API.
  explicit AdminApi(keys::TenantKeyStore& store) : store_(store) {}

  // Parses `request` as the method's request message, runs it, and returns
  // the serialized response. UNIMPLEMENTED for a method not of AdminService.
  absl::StatusOr<std::string> Invoke(const keys::Principal& caller,
                                     absl::string_view method,
                                     absl::string_view request);

  absl::StatusOr<v1::Tenant> CreateTenant(
      const keys::Principal& caller, const v1::CreateTenantRequest& request);
  absl::StatusOr<v1::ListTenantsResponse> ListTenants(
      const keys::Principal& caller, const v1::ListTenantsRequest& request);
  absl::StatusOr<v1::CreateApiKeyResponse> CreateApiKey(
      const keys::Principal& caller, const v1::CreateApiKeyRequest& request);
  absl::StatusOr<v1::ListApiKeysResponse> ListApiKeys(
      const keys::Principal& caller, const v1::ListApiKeysRequest& request);
  absl::StatusOr<v1::ApiKey> RevokeApiKey(
      const keys::Principal& caller, const v1::RevokeApiKeyRequest& request);

 private:
  keys::TenantKeyStore& store_;
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_ADMIN_API_H_
