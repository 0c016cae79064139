// The key store (key_store.h) on PostgreSQL, for several gateway replicas
// sharing one database.
//
//   POLKU_ASSIGN_OR_RETURN(auto store, PgKeyStore::Open(
//       "postgresql://polku@db/gateway", Clock::Real()));
//   store->StartRefreshing(absl::Seconds(1), absl::Seconds(10));
//
// The tables are SqliteKeyStore's (tenants, api_keys, key_changes), migrated
// at Open under the "gateway" component; the migration holds an advisory
// lock, so replicas starting together apply it once. Every insert and
// revocation first bumps the one key_changes row: its row lock makes
// writers across replicas take turns until commit, which is what lets
// readers follow change numbers (key_store.h) and what makes "issue the
// super-admin key unless one exists" atomic.
//
// While the server is unreachable, calls fail UNAVAILABLE ("the key
// database is unavailable: …"); the pool opens fresh connections once it is
// back. Authentication keeps answering from memory until the store is older
// than its max_staleness.
#ifndef POLKU_GATEWAY_KEYS_PG_KEY_STORE_H_
#define POLKU_GATEWAY_KEYS_PG_KEY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "gateway/keys/key_store.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"

namespace polku::gateway::keys {

class PgKeyStore : public CachingKeyStore {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Seconds(5);
    // The AdminService's executor, HTTP admin calls and the refresher.
    int connections = 4;
  };

  // Connects, migrates and loads the valid keys. UNAVAILABLE if the server
  // cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgKeyStore>> Open(
      const std::string& url, const Clock& clock, const Options& options);
  static absl::StatusOr<std::unique_ptr<PgKeyStore>> Open(
      const std::string& url, const Clock& clock = Clock::Real()) {
    return Open(url, clock, Options());
  }
  ~PgKeyStore() override;

  // Brings the schema up to date (postgres::WaitForServer's `ready` step).
  static absl::Status Migrate(postgres::Connection& db);

  std::string description() const override;

 private:
  PgKeyStore(const std::string& url, const Options& options,
             const Clock& clock);

  absl::StatusOr<bool> InsertTenant(const TenantRecord& tenant) override;
  absl::StatusOr<std::vector<TenantRecord>> SelectTenants(
      absl::string_view after, int limit) override;
  absl::StatusOr<InsertOutcome> InsertKey(StoredKey& key) override;
  absl::StatusOr<std::optional<StoredKey>> RevokeStoredKey(
      absl::string_view tenant, absl::string_view key_id,
      absl::Time now) override;
  absl::StatusOr<std::vector<KeyRecord>> SelectKeys(absl::string_view tenant,
                                                    absl::string_view after,
                                                    int limit,
                                                    bool show_revoked) override;
  absl::StatusOr<bool> ValidSuperAdminKeyExists() override;
  absl::StatusOr<int64_t> LastChange() override;
  absl::StatusOr<std::vector<StoredKey>> SelectValidKeys() override;
  absl::StatusOr<std::vector<StoredKey>> SelectChangesAfter(
      int64_t after) override;

  // Runs `work` on a pooled connection, in a transaction if asked; a
  // deadlock or serialization failure runs it again, a few times.
  absl::Status Run(bool transaction,
                   absl::FunctionRef<absl::Status(postgres::Connection&)> work);
  // The keys matching `where`, with its parameters.
  absl::StatusOr<std::vector<StoredKey>> SelectStoredKeys(
      absl::string_view where, const std::vector<postgres::Param>& params);

  const Options options_;
  postgres::Pool pool_;
};

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_PG_KEY_STORE_H_
