// Tenants and API keys: the store behind the gateway's AdminService and its
// authentication, on SQLite (<data_dir>/gateway.db, one gateway) or on
// PostgreSQL (any number of gateway replicas sharing one database).
//
//   POLKU_ASSIGN_OR_RETURN(auto store, OpenKeyStore(database_url, data_dir));
//   POLKU_RETURN_IF_ERROR(store->CreateTenant("demo", "Demo").status());
//   POLKU_ASSIGN_OR_RETURN(IssuedKey shop,
//       store->CreateKey("demo", "shop till", {kScopeEventsWrite}, "shop"));
//   std::cout << shop.key;            // shown once; only its hash is kept
//   absl::StatusOr<Principal> who = store->Authenticate(shop.key);
//   POLKU_RETURN_IF_ERROR(store->RevokeKey("demo", shop.record.key_id)
//                             .status());   // Authenticate fails from now on
//   store->StartRefreshing(absl::Seconds(1), absl::Seconds(10));
//
// CachingKeyStore is the store's algorithm, written once: validation, key
// issuing, and authentication from memory. Every valid key's hash is held
// in memory, so Authenticate never waits for a database (it runs on gRPC's
// threads). SqliteKeyStore and PgKeyStore supply only the transactions.
//
// Replicas. Every change to a key (issued, revoked) takes the next number of
// one counter row in the database, in the same transaction; the row's lock
// makes writers take turns, so change numbers become visible in commit
// order (unlike a PostgreSQL SEQUENCE, whose values are handed out before
// commit). Refresh reads the changes numbered above the last one it saw, so
// a key issued or revoked through another replica (or by polku-keys) is
// known here after the next refresh; a change made through this store is
// known at once. StartRefreshing refreshes every `interval` and, if no
// refresh succeeded for `max_staleness`, refuses every key (UNAVAILABLE)
// rather than answer from a view that may miss a revocation: a revoked key
// is refused by every replica within `interval` while the database answers,
// and never later than `max_staleness`.
#ifndef POLKU_GATEWAY_KEYS_KEY_STORE_H_
#define POLKU_GATEWAY_KEYS_KEY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gateway/keys/keys.h"
#include "lib/base/clock.h"

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
  // Issues the super-admin key (no tenant), unless a valid one exists:
  // ALREADY_EXISTS then. Atomic, so gateway replicas starting together on
  // one database issue one.
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

class CachingKeyStore : public TenantKeyStore {
 public:
  ~CachingKeyStore() override;

  // UNAVAILABLE while the store is stale (see StartRefreshing), else as
  // KeyStore::Authenticate. Never touches the database.
  absl::StatusOr<Principal> Authenticate(absl::string_view key) const final;
  absl::StatusOr<TenantRecord> CreateTenant(
      absl::string_view id, absl::string_view display_name) final;
  absl::StatusOr<std::vector<TenantRecord>> ListTenants(absl::string_view after,
                                                        int limit) final;
  absl::StatusOr<IssuedKey> CreateKey(absl::string_view tenant,
                                      absl::string_view display_name,
                                      const std::set<std::string>& scopes,
                                      absl::string_view channel) final;
  absl::StatusOr<IssuedKey> CreateSuperAdminKey() final;
  absl::StatusOr<bool> HasSuperAdminKey() final;
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(absl::string_view tenant,
                                                  absl::string_view after,
                                                  int limit,
                                                  bool show_revoked) final;
  absl::StatusOr<KeyRecord> RevokeKey(absl::string_view tenant,
                                      absl::string_view key_id) final;

  // Reads the keys issued and revoked since the last refresh, by any
  // process, into memory. Blocks on the database.
  absl::Status Refresh();

  // Refreshes every `interval` on a thread of its own (logging failures)
  // until the store is destroyed. From then on, once no refresh has
  // succeeded for `max_staleness`, Authenticate answers UNAVAILABLE until
  // one does. Call once.
  void StartRefreshing(absl::Duration interval, absl::Duration max_staleness);

  // Valid keys in memory.
  size_t size() const;

  // For messages: "gateway.db at …" or "PostgreSQL at host:port/db".
  virtual std::string description() const = 0;

 protected:
  // A key row with what only the store sees: its hash and change number.
  struct StoredKey {
    KeyRecord record;
    std::string hash;
    int64_t change = 0;
  };
  enum class InsertOutcome {
    kInserted,
    // Another key has the same id (32 bits of the hash): draw again.
    kIdTaken,
    // The key's tenant does not exist.
    kNoTenant,
    // A super-admin key was asked for and a valid one exists.
    kSuperAdminExists,
  };

  explicit CachingKeyStore(const Clock& clock) : clock_(clock) {}

  // The first Refresh: every valid key. Derived classes' Open calls it.
  absl::Status Load() { return Refresh(); }
  // Stops the refreshing thread; derived destructors call it first, as the
  // thread uses their transactions.
  void StopRefreshing();

  // What a database supplies; each call is one transaction, and each may
  // run on any thread, concurrently with the others.
  //
  // Inserts a tenant; false if the id is taken.
  virtual absl::StatusOr<bool> InsertTenant(const TenantRecord& tenant) = 0;
  virtual absl::StatusOr<std::vector<TenantRecord>> SelectTenants(
      absl::string_view after, int limit) = 0;
  // Inserts `key` (record, hash) under the next change number, which it
  // returns in key.change, unless the outcome says otherwise: a super-admin
  // key (empty tenant) only if no valid one exists, a tenant's key only if
  // the tenant exists. Changes take turns (see the file comment).
  virtual absl::StatusOr<InsertOutcome> InsertKey(StoredKey& key) = 0;
  // Revokes `tenant`'s key `key_id` at `now` under the next change number,
  // unless already revoked; the key as it then is, or nullopt if the tenant
  // has no such key.
  virtual absl::StatusOr<std::optional<StoredKey>> RevokeStoredKey(
      absl::string_view tenant, absl::string_view key_id, absl::Time now) = 0;
  virtual absl::StatusOr<std::vector<KeyRecord>> SelectKeys(
      absl::string_view tenant, absl::string_view after, int limit,
      bool show_revoked) = 0;
  virtual absl::StatusOr<bool> ValidSuperAdminKeyExists() = 0;
  // The highest change number committed.
  virtual absl::StatusOr<int64_t> LastChange() = 0;
  // Every valid key.
  virtual absl::StatusOr<std::vector<StoredKey>> SelectValidKeys() = 0;
  // The keys changed after change number `after`, by change number.
  virtual absl::StatusOr<std::vector<StoredKey>> SelectChangesAfter(
      int64_t after) = 0;

  const Clock& clock() const { return clock_; }

 private:
  absl::StatusOr<IssuedKey> Issue(absl::string_view tenant,
                                  absl::string_view display_name,
                                  const std::set<std::string>& scopes,
                                  absl::string_view channel);
  // Applies a key's state as stored to memory.
  void Apply(const StoredKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  void RefreshLoop(absl::Duration interval);

  const Clock& clock_;

  // Held while a database state is read and applied to memory, and while a
  // change this store made is applied: so a refresh that read the database
  // just before that change cannot apply its older state after it.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(keys_mu_);
  // The highest change number applied (-1: nothing loaded yet).
  int64_t watermark_ ABSL_GUARDED_BY(apply_mu_) = -1;

  // Key hash → principal, for every valid key.
  mutable absl::Mutex keys_mu_;
  absl::flat_hash_map<std::string, Principal> by_hash_
      ABSL_GUARDED_BY(keys_mu_);
  // When the last refresh succeeded, and how old that may be (zero: any).
  absl::Time refreshed_at_ ABSL_GUARDED_BY(keys_mu_);
  absl::Duration max_staleness_ ABSL_GUARDED_BY(keys_mu_);

  std::thread refresher_;
  absl::Notification stop_refreshing_;
};

struct OpenKeyStoreOptions {
  // PostgreSQL: keep trying to reach the server until then (logging each
  // attempt, with backoff), or until `cancelled` is notified.
  absl::Time deadline = absl::InfiniteFuture();
  absl::Notification* cancelled = nullptr;
  const Clock* clock = &Clock::Real();
};

// The store `database_url` names: empty = SQLite, <data_dir>/gateway.db
// (the directory is created); postgres://… or postgresql://… = PostgreSQL,
// migrated at open (replicas starting together migrate once).
// INVALID_ARGUMENT for any other URL.
absl::StatusOr<std::unique_ptr<CachingKeyStore>> OpenKeyStore(
    const std::string& database_url, const std::string& data_dir,
    const OpenKeyStoreOptions& options = {});

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_KEY_STORE_H_
