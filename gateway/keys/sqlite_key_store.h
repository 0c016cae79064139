// The key store (key_store.h) on SQLite: <data_dir>/gateway.db, for one
// gateway. polku-keys' offline commands may write the same file; a running
// gateway picks their changes up at its next refresh.
//
//   POLKU_ASSIGN_OR_RETURN(auto store,
//   SqliteKeyStore::Open(".polku/gateway.db"));
#ifndef POLKU_GATEWAY_KEYS_SQLITE_KEY_STORE_H_
#define POLKU_GATEWAY_KEYS_SQLITE_KEY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "gateway/keys/key_store.h"
#include "lib/sqlite/sqlite.h"

namespace polku::gateway::keys {

class SqliteKeyStore : public CachingKeyStore {
 public:
  // Opens (creating, mode 0600) the database, migrates it and loads the
  // valid keys. ":memory:" gives a private in-memory store (tests).
  static absl::StatusOr<std::unique_ptr<SqliteKeyStore>> Open(
      const std::string& path, const Clock& clock = Clock::Real());
  ~SqliteKeyStore() override;

  std::string description() const override;

 private:
  SqliteKeyStore(std::unique_ptr<sqlite::Database> db, std::string path,
                 const Clock& clock)
      : CachingKeyStore(clock), db_(std::move(db)), path_(std::move(path)) {}

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

  // Takes the next change number; inside a write transaction.
  absl::StatusOr<int64_t> NextChange() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The keys matching `where`, whose parameters `bind` binds.
  absl::StatusOr<std::vector<StoredKey>> SelectStoredKeys(
      absl::string_view where, absl::FunctionRef<void(sqlite::Statement&)> bind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The handle is not thread-safe.
  absl::Mutex mu_;
  std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
  const std::string path_;
};

}  // namespace polku::gateway::keys

#endif  // POLKU_GATEWAY_KEYS_SQLITE_KEY_STORE_H_
