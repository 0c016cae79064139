// polku-insight's store: the algorithms over the feed and the queries,
// written once, over a few primitives each backend supplies (SQLite,
// PostgreSQL, memory), as leveldb's Env or polku-feedback's GroupCommitStore
// do. Callers see only the narrow interfaces it implements: the feed tailer
// a FeedSink, queries a RollupReader or LedgerReader, the change monitor an
// AlertStore.
//
//   std::unique_ptr<RollupStore> store = …;   // e.g. SqliteRollupStore::Open
//   POLKU_RETURN_IF_ERROR(store->Apply(page.events()));
//   POLKU_ASSIGN_OR_RETURN(GroupedRollups rollups, store->Scorecard(query));
//
// Projections. Every page goes to each projection (projection.h): the
// ledger, its attribute index, the rollups, then any registered beside them,
// each with its own checkpoint in the same database, all in the page's one
// transaction. The ledger's checkpoint is the store's: the feed is read on from
// it. A projection behind the ledger (registered on a database that holds data)
// is skipped by pages and fed from the ledger by CatchUpStep instead, in
// steps that each commit, until it reaches the ledger; an erasure meanwhile
// takes from it only what it had counted.
//
// Exactly once, across replicas. Backends run every write in a transaction
// that holds the store's one write lock (SQLite: one writer connection;
// PostgreSQL: the checkpoint row, SELECT … FOR UPDATE) and read the
// checkpoints under it, so whoever writes second sees what the first
// committed and adds only what lies beyond (docs/replicas.md,
// postgres/pg_rollup_store.h).
#ifndef POLKU_SERVICES_INSIGHT_STORE_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_STORE_ROLLUP_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "services/insight/store/alert_store.h"
#include "services/insight/store/feed_sink.h"
#include "services/insight/store/projection.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

class RollupStore : public FeedSink,
                    public RollupReader,
                    public LedgerReader,
                    public AlertStore {
 public:
  // The checkpoints as stored.
  struct Checkpoints {
    // The ledger's: every feed event up to it is in the ledger.
    int64_t sequence = 0;
    // The feed they belong to; empty until bound.
    std::string feed_id;
    std::map<std::string, int64_t> projections;
  };

  ~RollupStore() override = default;

  // FeedSink.
  absl::Status Apply(
      const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) final;
  absl::Status ApplyErasure(const v1::Erasure& erasure) final;
  absl::Status CheckFeed(const std::string& feed_id) final;
  absl::StatusOr<int64_t> Checkpoint() final;

  // RollupReader.
  absl::StatusOr<GroupedRollups> Scorecard(const ScorecardQuery& query) final;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() final;

  // LedgerReader.
  absl::StatusOr<int64_t> ScanLedger(
      const ScorecardQuery& query,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) final;
  absl::StatusOr<std::vector<CountedEvent>> LedgerEvents(
      const std::string& tenant, std::vector<int64_t> sequences) final;

  // AlertStore.
  absl::Status SaveAlerts(const std::string& tenant,
                          const std::vector<v1::Alert>& alerts) final;
  absl::StatusOr<std::vector<v1::Alert>> LoadAlerts(const std::string& tenant,
                                                    const std::string& journey,
                                                    bool include_cleared) final;

  // Feeds up to `max_events` ledger events to the first projection behind
  // the ledger, in one transaction. True if a projection is still behind
  // (call again), false once every one has caught up.
  absl::StatusOr<bool> CatchUpStep(int max_events = 5000);

  // Every projection's checkpoint, by name (a projection never written has
  // none yet).
  absl::StatusOr<std::map<std::string, int64_t>> ProjectionCheckpoints();

 protected:
  // A write transaction of the backend, holding the store's write lock.
  class Transaction : public ProjectionStorage {
   public:
    virtual absl::StatusOr<Checkpoints> ReadCheckpoints() = 0;
    // Sets the ledger's checkpoint and those of `projections`.
    virtual absl::Status SaveCheckpoints(
        int64_t sequence,
        const std::map<std::string, int64_t>& projections) = 0;
    virtual absl::Status BindFeed(const std::string& feed_id) = 0;
    // Every ledger row of the customer (details not needed).
    virtual absl::StatusOr<std::vector<CountedEvent>> CustomerEvents(
        const std::string& tenant, const std::string& customer_hash) = 0;
    // Ledger rows with after < sequence ≤ through, in sequence order, at
    // most `limit`, with their details.
    virtual absl::StatusOr<std::vector<CountedEvent>> LedgerAfter(
        int64_t after, int64_t through, int limit) = 0;
  };

  // One read-only snapshot of the backend.
  class Snapshot {
   public:
    virtual ~Snapshot() = default;
    virtual absl::StatusOr<Checkpoints> ReadCheckpoints() = 0;
    // The rollups (and measure sums) of `query`, summed per group, appended
    // to `result` ordered by group key. `query` has no attribute filter.
    virtual absl::Status SumRollups(const ScorecardQuery& query,
                                    GroupedRollups& result) = 0;
    // Every ledger row of the query's tenant and journey within its versions,
    // days, touchpoints, stage and channel and after its after_sequence,
    // with at least `fields` (the rest may be left empty).
    // Attributes are left to the caller.
    virtual absl::Status ScanLedger(
        const ScorecardQuery& query, const LedgerFields& fields,
        absl::FunctionRef<absl::Status(const CountedEvent&)> visit) = 0;
    // The events of each chunk of `attribute` whose last_sequence is after
    // `after_sequence`, in sequence order.
    virtual absl::Status ScanAttributeChunks(
        int64_t attribute, int64_t after_sequence,
        absl::FunctionRef<absl::Status(absl::string_view events)> visit) = 0;
    // The tenant's ledger rows of `sequences` (ascending) that exist, with
    // every field, in sequence order.
    virtual absl::StatusOr<std::vector<CountedEvent>> LedgerEventsAt(
        const std::string& tenant, absl::Span<const int64_t> sequences) = 0;
    virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
    JourneysWithEvents() = 0;
    // The serialised alerts, newest first_seen first, then by id.
    virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
    AlertRows(const std::string& tenant, const std::string& journey,
              bool include_cleared) = 0;
  };

  // `extra` projections follow the ledger and the rollups.
  explicit RollupStore(std::vector<std::unique_ptr<Projection>> extra = {});

  // Runs `write` in one transaction holding the write lock; commits if it
  // returns true, rolls back if false or on error.
  virtual absl::Status Write(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) = 0;
  // Runs `read` in one read-only snapshot.
  virtual absl::Status Read(
      absl::FunctionRef<absl::Status(Snapshot&)> read) = 0;
  // Inserts or replaces the alerts (tenant and ids checked), in one
  // transaction of their own: alerts need no checkpoint lock.
  virtual absl::Status WriteAlerts(const std::string& tenant,
                                   const std::vector<v1::Alert>& alerts) = 0;
  // The database in messages: "insight.db", "the insight database at …".
  virtual std::string DatabaseName() const = 0;
  // What to do to start over from a new feed, for the refusal's message.
  virtual std::string RebuildAdvice() const = 0;

 private:
  // The attribute to find a query's events by: its first, if the attribute
  // index is complete; else null (the whole journey is scanned).
  static const std::pair<std::string, std::string>* IndexedAttribute(
      const Checkpoints& checkpoints, const ScorecardQuery& query);
  // Snapshot::ScanLedger, through the attribute index when IndexedAttribute
  // names one: only its chunks' events are read (with details or the
  // customer, each then read from the ledger by its sequence). Attributes
  // are left to `visit`.
  static absl::Status ScanJourney(
      Snapshot& snapshot, const Checkpoints& checkpoints,
      const ScorecardQuery& query, const LedgerFields& fields,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit);
  // The checkpoint of `projection`: 0 before it first wrote.
  static int64_t CheckpointOf(const Checkpoints& checkpoints,
                              const Projection& projection);

  std::vector<std::unique_ptr<Projection>> projections_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ROLLUP_STORE_H_
