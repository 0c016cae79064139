#include "gateway/keys/keys.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/crypto/crypto.h"

namespace polku::gateway::keys {
namespace {

// The check digits for a secret (the hex after the prefix).
std::string CheckDigits(absl::string_view secret) {
  return crypto::Sha256Hex(absl::StrCat(kKeyPrefix, secret))
      .substr(0, kKeyCheckDigits);
}

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string GenerateKey() {
  std::string secret = crypto::ToHex(crypto::RandomBytes(kKeyHexDigits / 2));
  return absl::StrCat(kKeyPrefix, secret, CheckDigits(secret));
}

bool IsWellFormedKey(absl::string_view key) {
  if (!absl::StartsWith(key, kKeyPrefix)) return false;
  key.remove_prefix(sizeof(kKeyPrefix) - 1);
  // Only lowercase: one key has exactly one spelling, so one hash.
  if (key.size() != kKeyHexDigits + kKeyCheckDigits || !IsLowerHex(key)) {
    return false;
  }
  return crypto::ConstantTimeEquals(key.substr(kKeyHexDigits),
                                    CheckDigits(key.substr(0, kKeyHexDigits)));
}

std::string KeyHash(absl::string_view key) { return crypto::Sha256Hex(key); }

std::string KeyId(absl::string_view key) { return KeyHash(key).substr(0, 8); }

bool IsKnownScope(absl::string_view scope) {
  return scope == kScopeEventsWrite || scope == kScopeEventsRead ||
         scope == kScopeJourneysRead || scope == kScopeJourneysWrite ||
         scope == kScopeInsightsRead || scope == kScopeCasesRead ||
         scope == kScopeCasesWrite || scope == kScopeActAs ||
         scope == kScopeAdmin ||
         scope == kScopeSuperAdmin;
}

}  // namespace polku::gateway::keys
