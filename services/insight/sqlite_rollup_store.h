// The SQLite RollupStore: one database file (<data_dir>/insight.db) with the
// daily rollups, their measure sums, the feed checkpoint and change alerts.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<SqliteRollupStore> store,
//                          SqliteRollupStore::Open(data_dir + "/insight.db"));
//
// Beside the rollups it keeps, per counted event, the customer hash, rollup
// key, scores, measures (in thousandths) and attributes (counted_events), so
// that an erasure subtracts exactly what that customer's events added
// (replaying the feed from the start, where erased events are absent, and
// applying it incrementally end equal), and so that a scorecard filtered by
// attributes, which no rollup covers, is summed from those rows instead.
//
// Apply runs on one writer connection. Scorecard reads run on their own
// connections (a small pool), which WAL mode lets proceed beside the writer,
// so a query never waits behind a page being applied.
#ifndef POLKU_SERVICES_INSIGHT_SQLITE_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_SQLITE_ROLLUP_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "lib/sqlite/sqlite.h"
#include "services/insight/rollup_store.h"

namespace polku::insight {

class SqliteRollupStore final : public RollupStore {
 public:
  // Opens (creating and migrating if needed) the database at `path`.
  // `durable` = false turns off fsync for tests; production keeps it.
  static absl::StatusOr<std::unique_ptr<SqliteRollupStore>> Open(
      const std::string& path, bool durable = true);

  // The schema, version by version; tests apply a prefix of it to build a
  // database as older code left it.
  static const std::vector<sqlite::Migration>& Migrations();

  // The erasure's reads and deletes of one customer's counted events (?1
  // tenant, ?2 customer hash), through the customer index, one probe per
  // segment of the ledger (kCustomerSequencesSql): without it they would
  // scan the whole ledger. A test pins their query plans.
  static const std::string& CustomerEventsSql();
  static const std::string& ForgetCustomerSql();

  absl::Status Apply(const google::protobuf::RepeatedPtrField<v1::StoredEvent>&
                         events) override;
  absl::Status ApplyErasure(const v1::Erasure& erasure) override;
  absl::Status CheckFeed(const std::string& feed_id) override;
  absl::StatusOr<int64_t> Checkpoint() override;
  absl::StatusOr<GroupedRollups> Scorecard(
      const ScorecardQuery& query) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() override;
  absl::Status SaveAlerts(const std::string& tenant,
                          const std::vector<v1::Alert>& alerts) override;
  absl::StatusOr<std::vector<v1::Alert>> LoadAlerts(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) override;

 private:
  SqliteRollupStore(std::string path, sqlite::Database::Options options,
                    std::unique_ptr<sqlite::Database> writer,
                    int64_t checkpoint);

  // A read connection from the pool, opened on demand.
  absl::StatusOr<std::unique_ptr<sqlite::Database>> TakeReader();
  void ReturnReader(std::unique_ptr<sqlite::Database> reader);
  // Runs `read` on a pooled reader inside one read transaction (a single
  // snapshot).
  template <typename T>
  absl::StatusOr<T> Read(
      absl::FunctionRef<absl::StatusOr<T>(sqlite::Database&)> read);

  const std::string path_;
  const sqlite::Database::Options options_;

  absl::Mutex writer_mu_;
  std::unique_ptr<sqlite::Database> writer_ ABSL_GUARDED_BY(writer_mu_);
  // The committed checkpoint, mirrored here so Checkpoint() needs neither a
  // query nor the writer's lock. Written only under writer_mu_.
  std::atomic<int64_t> checkpoint_;

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<sqlite::Database>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_SQLITE_ROLLUP_STORE_H_
