// OpenKeyStore (key_store.h): the one place that turns --database_url into
// a store, for polku-gateway and polku-keys alike.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/keys/demo_credentials.h"
#include "gateway/keys/files.h"
#include "gateway/keys/key_store.h"
#include "gateway/keys/pg_key_store.h"
#include "gateway/keys/sqlite_key_store.h"
#include "lib/base/status_macros.h"
#include "lib/postgres/pool.h"

namespace polku::gateway::keys {

absl::StatusOr<std::unique_ptr<CachingKeyStore>> OpenKeyStore(
    const std::string& database_url, const std::string& data_dir,
    const OpenKeyStoreOptions& options) {
  if (database_url.empty()) {
    POLKU_RETURN_IF_ERROR(MakeDirectories(data_dir));
    POLKU_ASSIGN_OR_RETURN(
        std::unique_ptr<SqliteKeyStore> store,
        SqliteKeyStore::Open(JoinPath(data_dir, kGatewayDbFileName),
                             *options.clock));
    return std::unique_ptr<CachingKeyStore>(std::move(store));
  }
  if (!absl::StartsWith(database_url, "postgres://") &&
      !absl::StartsWith(database_url, "postgresql://")) {
    // Never the rest of the URL: it may hold a password.
    return absl::InvalidArgumentError(absl::StrCat(
        "database_url: must be empty (SQLite under the data directory) or "
        "start with postgres:// or postgresql://; got one starting \"",
        database_url.substr(0, database_url.find(':')), ":\""));
  }
  while (true) {
    // Waits (logging each attempt) until the server answers and the schema
    // is migrated: an orchestrator may start the database and the gateway
    // together.
    POLKU_RETURN_IF_ERROR(
        postgres::WaitForServer(database_url, {.deadline = options.deadline,
                                               .ready = &PgKeyStore::Migrate,
                                               .cancelled = options.cancelled})
            .status());
    absl::StatusOr<std::unique_ptr<PgKeyStore>> store =
        PgKeyStore::Open(database_url, *options.clock);
    if (store.ok()) return std::unique_ptr<CachingKeyStore>(*std::move(store));
    // Gone again between the wait and the open: wait again, unless time
    // is up or the problem is not one waiting fixes.
    if (!absl::IsUnavailable(store.status()) ||
        absl::Now() > options.deadline) {
      return store.status();
    }
  }
}

}  // namespace polku::gateway::keys
