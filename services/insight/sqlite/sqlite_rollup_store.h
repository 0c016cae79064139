// RollupStore on SQLite: one database file (<data_dir>/insight.db) with the
// ledger (counted_events and event_details), the daily rollups and their
// measure sums, the checkpoints and change alerts. Only the primitives and
// their SQL are here; the algorithms are RollupStore's.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<SqliteRollupStore> store,
//                          SqliteRollupStore::Open(data_dir + "/insight.db"));
//
// Writes run on one writer connection, one at a time (its mutex is the
// store's write lock). Reads run on their own connections (lib/sqlite's
// ReaderPool), which WAL mode lets proceed beside the writer, so a query
// never waits behind a page being applied.
#ifndef POLKU_SERVICES_INSIGHT_SQLITE_SQLITE_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_SQLITE_SQLITE_ROLLUP_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/sqlite/reader_pool.h"
#include "lib/sqlite/sqlite.h"
#include "services/insight/store/rollup_store.h"

namespace polku::insight {

class SqliteRollupStore final : public RollupStore {
 public:
  // Opens (creating and migrating if needed) the database at `path`.
  // `durable` = false turns off fsync for tests; production keeps it.
  // `extra` projections follow the ledger and the rollups.
  static absl::StatusOr<std::unique_ptr<SqliteRollupStore>> Open(
      const std::string& path, bool durable = true,
      std::vector<std::unique_ptr<Projection>> extra = {});

  // The schema, version by version; tests apply a prefix of it to build a
  // database as older code left it.
  static const std::vector<sqlite::Migration>& Migrations();

  // The erasure's reads and deletes of one customer's counted events (?1
  // tenant, ?2 customer hash), through the customer index, one probe per
  // segment of the ledger: without it they would scan the whole ledger. A
  // test pins their query plans.
  static const std::string& CustomerEventsSql();
  static const std::string& ForgetCustomerSql();
  static const std::string& ForgetDetailsSql();
  // A filtered scan's reads: one attribute's chunks (?1 attribute, ?2 after
  // sequence), one range of the chunks' index; with details, each event
  // found then by its sequence (?1) and tenant (?2). A test pins their plans.
  static const std::string& AttributeChunksSql();
  static const std::string& LedgerEventAtSql();

 protected:
  absl::Status Write(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) override;
  absl::Status Read(absl::FunctionRef<absl::Status(Snapshot&)> read) override;
  absl::Status WriteAlerts(const std::string& tenant,
                           const std::vector<v1::Alert>& alerts) override;
  std::string DatabaseName() const override { return "insight.db"; }
  std::string RebuildAdvice() const override {
    return "delete insight.db to rebuild from the new feed, or restore the "
           "old feedback.db";
  }

 private:
  class WriterTransaction;
  class ReaderSnapshot;

  SqliteRollupStore(const std::string& path, bool durable,
                    std::unique_ptr<sqlite::Database> writer,
                    std::vector<std::unique_ptr<Projection>> extra);

  absl::Mutex writer_mu_;
  std::unique_ptr<sqlite::Database> writer_ ABSL_GUARDED_BY(writer_mu_);
  sqlite::ReaderPool readers_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SQLITE_SQLITE_ROLLUP_STORE_H_
