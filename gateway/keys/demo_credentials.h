// Issues a tenant's starting keys through the key store, and the bootstrap
// super-admin key. Used by `polku-keys init` / `polku-keys bootstrap`
// (offline: they open the store themselves) and by the gateway itself at
// start.
//
//   POLKU_ASSIGN_OR_RETURN(auto store, OpenKeyStore(database_url, ".polku"));
//   auto result = InitDemoCredentials(*store, ".polku", "demo",
//                                     {"shop", "phone", "web", "email"});
//   if (!result->created) std::cout << "kept " << result->credentials_path;
//
// credentials.json holds the tenant, an admin key (admin, journeys:read,
// journeys:write, insights:read), an insights:read key and one events:write
// key per channel, mode 0600. Idempotent: if credentials.json exists nothing
// is issued, so restarting the demo keeps its keys.
#ifndef POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_
#define POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/keys/key_store.h"

namespace polku::gateway::keys {

inline constexpr char kCredentialsFileName[] = "credentials.json";
// The bootstrap super-admin key, one line, mode 0600.
inline constexpr char kSuperAdminKeyFileName[] = "superadmin.key";

struct DemoCredentials {
  std::string tenant;
  std::string admin_key;
  std::string insights_key;
  // Channel → key.
  std::map<std::string, std::string> channel_keys;
};

struct InitResult {
  // False when credentials.json already existed and was left as is.
  bool created = false;
  std::string credentials_path;
};

// See the file comment. INVALID_ARGUMENT for a malformed tenant or channel
// name, or a repeated channel. Creates the tenant unless it exists.
absl::StatusOr<InitResult> InitDemoCredentials(
    TenantKeyStore& store, const std::string& data_dir,
    const std::string& tenant, const std::vector<std::string>& channels);

// Issues a super-admin key into <data_dir>/superadmin.key unless the store
// already has a valid one (then the file is left as it is: with several
// gateways on one database, only the one that issued the key has it). Returns
// the file's path and whether it was written now.
absl::StatusOr<std::pair<std::string, bool>> EnsureSuperAdminKey(
    TenantKeyStore& store, const std::string& data_dir);

// Reads a credentials.json file.
absl::StatusOr<DemoCredentials> ReadCredentials(const std::string& path);

// dir + "/" + name.
std::string JoinPath(const std::string& dir, const char* name);

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_
