// API keys and the principals they stand for.
//
// A key is "polku_", 64 lowercase hex digits (256 random bits) and 8 hex
// check digits (the first 8 hex digits of SHA-256 of "polku_" + secret):
// the prefix makes a leaked key easy to spot (secret scanners), the check
// digits reject a mistyped key before any lookup. Keys are shown once and
// stored only as SHA-256 hashes; a KeyStore turns a presented key into the
// Principal it was issued to:
//
//   std::string key = keys::GenerateKey();        // "polku_3f9c…e1a0"
//   absl::StatusOr<keys::Principal> who = store.Authenticate(key);
//   if (!who.ok()) return who.status();             // UNAUTHENTICATED
//   if (who->HasScope(keys::kScopeEventsWrite)) …
//
// The KeyStore implementation is CachingKeyStore (key_store.h), on SQLite
// or PostgreSQL, which the gateway's AdminService manages.
#ifndef POLKU_GATEWAY_KEYS_KEYS_H_
#define POLKU_GATEWAY_KEYS_KEYS_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polku::gateway::keys {

// Scopes a key may hold.
// Submit touchpoint events; a key with it is bound to one channel.
inline constexpr char kScopeEventsWrite[] = "events:write";
// Read journeys and channels.
inline constexpr char kScopeJourneysRead[] = "journeys:read";
// Create and publish journeys.
inline constexpr char kScopeJourneysWrite[] = "journeys:write";
// Read scorecards.
inline constexpr char kScopeInsightsRead[] = "insights:read";
// Export the tenant's stored events (ExportEvents): for analysts' own tools,
// without the keys, erasure and change feed that `admin` also allows.
inline constexpr char kScopeEventsRead[] = "events:read";
// Read follow-up cases, their rules, audit trails and close-the-loop
// measures, and dry-run a rule (CaseService, polku-cases).
inline constexpr char kScopeCasesRead[] = "cases:read";
// Create and work cases (state, assignee, comments, consent) and create and
// change rules.
inline constexpr char kScopeCasesWrite[] = "cases:write";
// Name the person acting (the `x-polku-actor` header), for a tool that
// signs its own users in (a helpdesk, a case board): the audit trail then
// records "<person> via <key>" instead of the key alone (docs/security.md).
inline constexpr char kScopeActAs[] = "act_as";
// Tenant administration (API keys), including the raw change feed.
inline constexpr char kScopeAdmin[] = "admin";
// The bootstrap super-admin: creates tenants and administers every tenant's
// keys, but reads and writes no tenant data (it has no tenant).
inline constexpr char kScopeSuperAdmin[] = "superadmin";

inline constexpr char kKeyPrefix[] = "polku_";
// Hex digits of the secret after the prefix, then of the check.
inline constexpr size_t kKeyHexDigits = 64;
inline constexpr size_t kKeyCheckDigits = 8;

// Who a key was issued to.
struct Principal {
  std::string tenant;
  std::set<std::string> scopes;
  // Empty only for the super-admin.
  // The channel a channel key is bound to; empty for tenant-wide keys.
  std::string channel;
  // A non-secret name of the key (first 8 hex digits of its hash), for logs.
  std::string key_id;
  // The name the key was issued under (e.g. "helpdesk"), for the audit.
  std::string display_name;

  bool HasScope(absl::string_view scope) const {
    return scopes.find(std::string(scope)) != scopes.end();
  }
  bool IsSuperAdmin() const { return HasScope(kScopeSuperAdmin); }
};

// A fresh random key.
std::string GenerateKey();

// Whether `key` has the key format and its check digits match. Says nothing
// about whether it is known.
bool IsWellFormedKey(absl::string_view key);

// Lowercase hex SHA-256 of the key: what the key store keeps.
std::string KeyHash(absl::string_view key);

// The key's non-secret id: the first 8 hex digits of KeyHash.
std::string KeyId(absl::string_view key);

// Whether `scope` is one a key may hold.
bool IsKnownScope(absl::string_view scope);

// Resolves presented keys. Implementations are thread-safe.
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // The principal behind `key`; UNAUTHENTICATED "malformed API key" if it
  // does not have the key format, "unknown or revoked API key" if no such key
  // exists (or it was revoked).
  virtual absl::StatusOr<Principal> Authenticate(
      absl::string_view key) const = 0;
};

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_KEYS_H_
