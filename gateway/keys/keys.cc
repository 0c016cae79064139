#include "gateway/keys/keys.h"

#include "absl/strings/match.h"
#include "lib/crypto/crypto.h"

namespace polku::gateway::keys {

std::string GenerateKey() {
  return std::string(kKeyPrefix) +
         crypto::ToHex(crypto::RandomBytes(kKeyHexDigits / 2));
}

bool IsWellFormedKey(absl::string_view key) {
  if (!absl::StartsWith(key, kKeyPrefix)) return false;
  key.remove_prefix(sizeof(kKeyPrefix) - 1);
  if (key.size() != kKeyHexDigits) return false;
  for (char c : key) {
    // Only lowercase: one key has exactly one spelling, so one hash.
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string KeyHash(absl::string_view key) { return crypto::Sha256Hex(key); }

std::string KeyId(absl::string_view key) { return KeyHash(key).substr(0, 8); }

}  // namespace polku::gateway::keys
