// Issues the demo tenant's keys: one admin key and one key per channel.
//
//   auto result = InitDemoCredentials(".polku", "demo",
//                                     {"shop", "phone", "web", "email"});
//   if (!result.ok()) { … }
//   if (!result->created) std::cout << "kept " << result->credentials_path;
//
// Writes <data_dir>/credentials.json (the plaintext keys, for the operator
// and the demo tools) and <data_dir>/gateway-keys.json (only their hashes,
// for the gateway), both mode 0600. Idempotent: if credentials.json exists,
// neither file is touched, so restarting the demo keeps its keys.
#ifndef POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_
#define POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace polku::gateway::keys {

inline constexpr char kCredentialsFileName[] = "credentials.json";
inline constexpr char kKeyFileName[] = "gateway-keys.json";

struct DemoCredentials {
  std::string tenant;
  std::string admin_key;
  // Channel key → key.
  std::map<std::string, std::string> channel_keys;
};

struct InitResult {
  // False when credentials.json already existed and was left as is.
  bool created = false;
  std::string credentials_path;
  std::string key_file_path;
};

// See the file comment. INVALID_ARGUMENT for an empty or malformed tenant or
// channel name, or a repeated channel.
absl::StatusOr<InitResult> InitDemoCredentials(
    const std::string& data_dir, const std::string& tenant,
    const std::vector<std::string>& channels);

// Reads a credentials.json file.
absl::StatusOr<DemoCredentials> ReadCredentials(const std::string& path);

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_DEMO_CREDENTIALS_H_
