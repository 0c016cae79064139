// Tenants and API keys: the store behind the gateway's AdminService and its
// authentication. SqliteKeyStore keeps them in <data_dir>/gateway.db
// (PostgreSQL can come later behind the same TenantKeyStore interface).
//
//   POLKU_ASSIGN_OR_RETURN(auto store,
//                          SqliteKeyStore::Open(".polku/gateway.db"));
//   POLKU_RETURN_IF_ERROR(store->CreateTenant("demo", "Demo").status());
//   POLKU_ASSIGN_OR_RETURN(IssuedKey shop,
//       store->CreateKey("demo", "shop till", {kScopeEventsWrite}, "shop"));
//   std::cout << shop.key;            // shown once; only its hash is kept
//   absl::StatusOr<Principal> who = store->Authenticate(shop.key);
//   POLKU_RETURN_IF_ERROR(store->RevokeKey("demo", shop.record.key_id)
//                             .status());   // Authenticate fails from now on
//
// Authentication answers from memory: every valid key's hash is loaded at
// Open and the map is updated (under a lock) by every create and revoke, so
// a revocation takes effect for the very next call. The store must be the
// only writer of its database while it is open (polku-keys talks to the
// running gateway's AdminService; its offline commands run before start).
#ifndef POLKU_GATEWAY_KEYS_KEY_STORE_H_
#define POLKU_GATEWAY_KEYS_KEY_STORE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gateway/keys/keys.h"
#include "lib/base/clock.h"
#include "lib/sqlite/sqlite.h"

namespace polku::gateway::keys {

inline constexpr char kGatewayDbFileName[] = "gateway.db";

struct TenantRecord {
  std::string id;
  std::string display_name;
  absl::Time create_time;
};

// An issued key as stored: everything but the key.
struct KeyRecord {
  std::string key_id;
  // Empty for the super-admin key.
  std::string tenant;
  std::string display_name;
  std::set<std::string> scopes;
  std::string channel;
  absl::Time create_time;
  absl::optional<absl::Time> revoke_time;
};

struct IssuedKey {
  KeyRecord record;
  // The key itself; not stored anywhere.
  std::string key;
};

// Whether `name` is a valid tenant or channel name: 1-64 of a-z, 0-9, _, -.
bool IsValidName(absl::string_view name);

class TenantKeyStore : public KeyStore {
 public:
  // INVALID_ARGUMENT "tenant_id: …" for a bad id, ALREADY_EXISTS if taken.
  virtual absl::StatusOr<TenantRecord> CreateTenant(
      absl::string_view id, absl::string_view display_name) = 0;
  // Up to `limit` tenants with ids after `after`, by id.
  virtual absl::StatusOr<std::vector<TenantRecord>> ListTenants(
      absl::string_view after, int limit) = 0;
  // Issues a key of `tenant`. NOT_FOUND for an unknown tenant;
  // INVALID_ARGUMENT "api_key.scopes: …" / "api_key.channel: …" unless the
  // scopes are known and either exactly {events:write} with a channel, or
  // without events:write and without a channel.
  virtual absl::StatusOr<IssuedKey> CreateKey(
      absl::string_view tenant, absl::string_view display_name,
      const std::set<std::string>& scopes, absl::string_view channel) = 0;
  // Issues a super-admin key (no tenant).
  virtual absl::StatusOr<IssuedKey> CreateSuperAdminKey() = 0;
  // Whether a valid super-admin key exists.
  virtual absl::StatusOr<bool> HasSuperAdminKey() = 0;
  // Up to `limit` keys of `tenant` with ids after `after`, by id.
  virtual absl::StatusOr<std::vector<KeyRecord>> ListKeys(
      absl::string_view tenant, absl::string_view after, int limit,
      bool show_revoked) = 0;
  // NOT_FOUND unless `tenant` has the key.
  virtual absl::StatusOr<KeyRecord> RevokeKey(absl::string_view tenant,
                                              absl::string_view key_id) = 0;
};

class SqliteKeyStore : public TenantKeyStore {
 public:
  // Opens (creating) the database and loads the valid keys' hashes.
  static absl::StatusOr<std::unique_ptr<SqliteKeyStore>> Open(
      const std::string& path, const Clock& clock = Clock::Real());

  absl::StatusOr<Principal> Authenticate(absl::string_view key) const override;
  absl::StatusOr<TenantRecord> CreateTenant(
      absl::string_view id, absl::string_view display_name) override;
  absl::StatusOr<std::vector<TenantRecord>> ListTenants(absl::string_view after,
                                                        int limit) override;
  absl::StatusOr<IssuedKey> CreateKey(absl::string_view tenant,
                                      absl::string_view display_name,
                                      const std::set<std::string>& scopes,
                                      absl::string_view channel) override;
  absl::StatusOr<IssuedKey> CreateSuperAdminKey() override;
  absl::StatusOr<bool> HasSuperAdminKey() override;
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(absl::string_view tenant,
                                                  absl::string_view after,
                                                  int limit,
                                                  bool show_revoked) override;
  absl::StatusOr<KeyRecord> RevokeKey(absl::string_view tenant,
                                      absl::string_view key_id) override;

  // Valid keys in memory.
  size_t size() const;

 private:
  SqliteKeyStore(std::unique_ptr<sqlite::Database> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}

  absl::Status LoadValidKeys();
  absl::StatusOr<IssuedKey> InsertKey(absl::string_view tenant,
                                      absl::string_view display_name,
                                      const std::set<std::string>& scopes,
                                      absl::string_view channel);
  absl::StatusOr<KeyRecord> ReadKey(absl::string_view key_id);

  // Guards the database handle (not thread-safe) and orders writes.
  absl::Mutex db_mu_;
  std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(db_mu_);
  const Clock& clock_;

  // Key hash → principal, for every valid key.
  mutable absl::Mutex keys_mu_;
  absl::flat_hash_map<std::string, Principal> by_hash_
      ABSL_GUARDED_BY(keys_mu_);
};

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_KEY_STORE_H_
