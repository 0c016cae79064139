#include "services/insight/server/rollup_store_factory.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "lib/postgres/pool.h"
#include "services/insight/postgres/pg_rollup_store.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

namespace polku::insight {

absl::StatusOr<std::unique_ptr<RollupStore>> OpenRollupStore(
    const std::string& database_url, const std::string& data_dir,
    absl::Notification* cancelled) {
  if (database_url.empty()) {
    std::error_code error;
    std::filesystem::create_directories(data_dir, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create the data directory ", data_dir, ": ",
                       error.message()));
    }
    POLKU_ASSIGN_OR_RETURN(
        std::unique_ptr<SqliteRollupStore> store,
        SqliteRollupStore::Open(
            (std::filesystem::path(data_dir) / "insight.db").string()));
    return store;
  }
  if (!absl::StartsWith(database_url, "postgres://") &&
      !absl::StartsWith(database_url, "postgresql://")) {
    // Only the scheme is repeated: the rest may hold a password.
    return absl::InvalidArgumentError(absl::StrCat(
        "--database_url must be empty (SQLite under --data_dir) or start with "
        "postgres:// or postgresql://; got one starting \"",
        database_url.substr(0, database_url.find(':')), ":\""));
  }
  // Waits for the server (and migrates on the first connection that
  // answers); the store then opens its own connections.
  POLKU_RETURN_IF_ERROR(
      postgres::WaitForServer(database_url, {.ready = &PgRollupStore::Migrate,
                                             .cancelled = cancelled})
          .status());
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<PgRollupStore> store,
                         PgRollupStore::Open(database_url));
  log::Info("rollups kept in PostgreSQL",
            {{"server", postgres::DescribeServer(database_url)}});
  return store;
}

}  // namespace polku::insight
