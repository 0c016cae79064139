// A KeyStore read once from a JSON key file holding only key hashes:
//
//   {"keys": [{"id": "1a2b3c4d", "tenant": "demo", "scopes": ["events:write"],
//              "channel": "shop", "sha256": "1a2b3c4d…"}]}
//
//   auto store = FileKeyStore::Load(".polku/gateway-keys.json");
//   if (!store.ok()) { … exit(1); }
//   absl::StatusOr<Principal> who = (*store)->Authenticate(presented_key);
//
// Lookup hashes the presented key and finds the hash in a hash map, so no
// secret is ever compared byte by byte.
#ifndef POLKU_GATEWAY_KEYS_FILE_KEY_STORE_H_
#define POLKU_GATEWAY_KEYS_FILE_KEY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/keys/keys.h"

namespace polku::gateway::keys {

// One issued key as the gateway stores it.
struct KeyEntry {
  // Lowercase hex SHA-256 of the key.
  std::string sha256;
  // Who it was issued to; principal.key_id is the first 8 hex of sha256.
  Principal principal;
};

// The entry for a freshly issued `key`.
KeyEntry MakeKeyEntry(absl::string_view key, std::string tenant,
                      std::set<std::string> scopes, std::string channel);

// The key file's JSON text for `entries`.
std::string KeyFileJson(const std::vector<KeyEntry>& entries);

class FileKeyStore : public KeyStore {
 public:
  // Reads and validates a key file. NOT_FOUND if it does not exist;
  // INVALID_ARGUMENT naming the path and the offending entry otherwise.
  static absl::StatusOr<std::unique_ptr<FileKeyStore>> Load(
      const std::string& path);

  // Parses key file text (see Load).
  static absl::StatusOr<std::unique_ptr<FileKeyStore>> Parse(
      absl::string_view json);

  // Validates entries: a tenant, known scopes, a channel exactly when the key
  // has events:write, a well-formed unique hash.
  static absl::StatusOr<std::unique_ptr<FileKeyStore>> FromEntries(
      std::vector<KeyEntry> entries);

  absl::StatusOr<Principal> Authenticate(absl::string_view key) const override;

  size_t size() const { return by_hash_.size(); }

 private:
  FileKeyStore() = default;

  // Immutable after construction, so reads need no lock.
  absl::flat_hash_map<std::string, Principal> by_hash_;
};

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_FILE_KEY_STORE_H_
