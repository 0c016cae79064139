// The RollupStore on PostgreSQL, for several polku-insight replicas sharing
// one database. The same tables as SqliteRollupStore (rollups,
// rollup_measures, counted_events, checkpoint, alerts) and the same
// arithmetic (rollup_math.h), so both backends hold the same numbers.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<PgRollupStore> store,
//                          PgRollupStore::Open("postgresql://db/insight"));
//   POLKU_RETURN_IF_ERROR(store->Apply(page.events()));
//
// Exactly once across replicas. Every replica tails the whole feed and
// applies every page; no lease or partitioning decides who counts what.
// Instead each writing transaction (Apply, ApplyErasure, CheckFeed) starts
// by locking the single checkpoint row (SELECT … FOR UPDATE) and only then
// decides what to add: events at or below the checkpoint it reads under the
// lock were counted already (by this replica or another) and are skipped.
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
#ifndef POLKU_SERVICES_INSIGHT_PG_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_PG_ROLLUP_STORE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"
#include "services/insight/rollup_store.h"

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
  static absl::StatusOr<std::unique_ptr<PgRollupStore>> Open(
      const std::string& url, PgRollupStoreOptions options = {});

  // Creates or migrates the schema; safe while other replicas do the same.
  static absl::Status Migrate(postgres::Connection& db);

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
  PgRollupStore(const std::string& url, PgRollupStoreOptions options);

  // Runs `write` in a transaction that holds the checkpoint row's lock;
  // `write` gets the checkpoint and returns the one to store (unchanged =
  // nothing to write, the transaction is rolled back).
  absl::Status WriteLocked(absl::FunctionRef<absl::StatusOr<int64_t>(
                               postgres::Connection&, int64_t checkpoint)>
                               write);
  // Runs `read` in one read-only snapshot.
  template <typename T>
  absl::StatusOr<T> Read(
      absl::FunctionRef<absl::StatusOr<T>(postgres::Connection&)> read);
  absl::StatusOr<postgres::Pool::Lease> Connect();
  // Names the server in UNAVAILABLE errors.
  absl::Status Describe(absl::Status status) const;

  const PgRollupStoreOptions options_;
  postgres::Pool pool_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_PG_ROLLUP_STORE_H_
