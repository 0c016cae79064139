// The RollupStore on PostgreSQL, for several polku-insight replicas sharing
// one database. The same tables as SqliteRollupStore (rollups,
// rollup_measures, counted_events, event_details, checkpoint,
// projection_checkpoints, alerts); only the primitives and their SQL are
// here, the algorithms are RollupStore's, so both backends hold the same
// numbers.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<PgRollupStore> store,
//                          PgRollupStore::Open("postgresql://db/insight"));
//   POLKU_RETURN_IF_ERROR(store->Apply(page.events()));
//
// Exactly once across replicas. Every replica tails the whole feed and
// applies every page; no lease or partitioning decides who counts what.
// Instead each writing transaction (Apply, ApplyErasure, CheckFeed, a
// projection's catch-up step) starts by locking the single checkpoint row
// (SELECT … FOR UPDATE) and only then reads every projection's checkpoint
// and decides what to add: events at or below a projection's checkpoint
// read under the lock were counted already (by this replica or another) and
// are skipped.
// The lock is held to COMMIT, so two replicas applying the same or
// overlapping pages run one after the other: the second sees the first's
// committed checkpoint (READ COMMITTED re-reads a row locked by a
// transaction that since committed) and adds only what lies beyond it.
// Rollups, ledger rows and the checkpoint change in that one transaction, so
// a replica killed mid-page leaves nothing behind (PostgreSQL rolls the
// transaction back) and whoever applies the page next counts it fully. A
// COMMIT whose answer is lost is harmless too: the caller's retry reads the
// checkpoint again and skips what did commit. Why not a lease (one replica
// counts, the others stand by): a lease alone is not enough, because a
// paused lease holder can wake after expiry and commit a page its successor
// also counted; it would still need this check inside the transaction, and
// with the check the lease only saves duplicate reading, which is cheap.
//
// Erasures follow the same rule and the feed's order: an erasure at or below
// the checkpoint was applied; one above subtracts exactly the customer's
// counted_events, whichever replica counted them.
//
// The checkpoint lock makes a page's round trips every replica's wait, so a
// page (or an erasure) costs the same few statements whatever its size: each
// table's rows travel as arrays, one per column, that the statement unnests.
//
// Scorecards read one REPEATABLE READ snapshot, so as_of_sequence is exactly
// what the numbers include. Every connection sets synchronous_commit = on:
// a page is counted once it is on the server's disk.
//
// While the database is unreachable every call fails UNAVAILABLE naming the
// server ("PostgreSQL at db:5432/insight unreachable: …"); broken
// connections are dropped and reopened by the next call, so the store
// recovers by itself. Schema versions are recorded per service, so the
// database may be shared with other Polku services.
#ifndef POLKU_SERVICES_INSIGHT_POSTGRES_PG_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_POSTGRES_PG_ROLLUP_STORE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"
#include "services/insight/store/rollup_store.h"

namespace polku::insight {

struct PgRollupStoreOptions {
  // Connections open at most (the tailer's writes and concurrent queries).
  int connections = 4;
  // How long a call waits for a connection, or for one to open.
  absl::Duration connection_timeout = absl::Seconds(5);
};

class PgRollupStore final : public RollupStore {
 public:
  // Connects once (UNAVAILABLE if the server does not answer) and creates or
  // migrates the schema. To wait for the server, see OpenRollupStore.
  // `extra` projections follow the ledger and the rollups.
  static absl::StatusOr<std::unique_ptr<PgRollupStore>> Open(
      const std::string& url, PgRollupStoreOptions options = {},
      std::vector<std::unique_ptr<Projection>> extra = {});

  // Creates or migrates the schema; safe while other replicas do the same.
  static absl::Status Migrate(postgres::Connection& db);

  // The schema, version by version; tests apply a prefix of it to build a
  // database as older code left it.
  static const std::vector<Migration>& Migrations();

 protected:
  absl::Status Write(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) override;
  absl::Status Read(absl::FunctionRef<absl::Status(Snapshot&)> read) override;
  absl::Status WriteAlerts(const std::string& tenant,
                           const std::vector<v1::Alert>& alerts) override;
  std::string DatabaseName() const override;
  std::string RebuildAdvice() const override {
    return "drop the insight database's tables to rebuild from the new feed, "
           "or restore the old feedback database";
  }

 private:
  class LockedTransaction;
  class ReadSnapshot;

  PgRollupStore(const std::string& url, PgRollupStoreOptions options,
                std::vector<std::unique_ptr<Projection>> extra);

  absl::StatusOr<postgres::Pool::Lease> Connect();
  // Names the server in UNAVAILABLE errors.
  absl::Status Describe(absl::Status status) const;

  const PgRollupStoreOptions options_;
  postgres::Pool pool_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_POSTGRES_PG_ROLLUP_STORE_H_
