// Chooses polku-insight's RollupStore from --database_url: the one call
// main needs.
//
//   absl::Notification stop;  // notified on SIGTERM to stop waiting
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<RollupStore> store,
//                          OpenRollupStore(database_url, data_dir, &stop));
//
// Empty URL: SQLite at <data_dir>/insight.db (the directory is created).
// postgres://… or postgresql://…: PostgreSQL. The server need not be up
// yet: every failed attempt is logged as a warning naming the server
// ("PostgreSQL at db:5432/insight unreachable: …; retrying in 2s") and
// retried with exponential backoff (0.5 s doubling to 30 s) until it
// answers and the schema is migrated, or `cancelled` is notified
// (CANCELLED). Problems waiting cannot fix (a schema newer than this build)
// end the wait with that error. Any other URL is INVALID_ARGUMENT.
#ifndef POLKU_SERVICES_INSIGHT_ROLLUP_STORE_FACTORY_H_
#define POLKU_SERVICES_INSIGHT_ROLLUP_STORE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "services/insight/store/rollup_store.h"

namespace polku::insight {

absl::StatusOr<std::unique_ptr<RollupStore>> OpenRollupStore(
    const std::string& database_url, const std::string& data_dir,
    absl::Notification* cancelled = nullptr);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ROLLUP_STORE_FACTORY_H_
