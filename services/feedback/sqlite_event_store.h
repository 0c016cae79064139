// The EventStore on SQLite: one file (<data_dir>/feedback.db), one writer
// thread doing group commit, read-only connections for the change feed.
//
//   POLKU_ASSIGN_OR_RETURN(auto store,
//       SqliteEventStore::Open(data_dir + "/feedback.db", std::move(hasher),
//       {}));
//   store->Submit(batch, done);   // see event_store.h
//   …
//   store->Stop();                // commits what is queued, then stops
//
// Group commit (group_commit_store.h): the writer stores everything queued
// in one BEGIN IMMEDIATE … COMMIT — one fsync for many callers, WAL and
// synchronous=FULL. The single writer is also what makes sequence order
// equal commit order. Each batch gets its own SAVEPOINT: a batch whose
// statements fail is rolled back alone and answered INTERNAL while the rest
// of the group commits; only a failed BEGIN or COMMIT fails everyone
// (UNAVAILABLE, safe to retry).
#ifndef POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/sqlite/reader_pool.h"
#include "lib/sqlite/sqlite.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/feed_notifier.h"
#include "services/feedback/group_commit_store.h"

namespace polku::feedback {

struct SqliteEventStoreOptions {
  // WAL + synchronous=FULL. Tests may turn it off; production never does.
  bool durable = true;
  // The queue and the writer in front of the database.
  GroupCommitOptions group_commit;
};

class SqliteEventStore : public GroupCommitStore {
 public:
  // How the writer's connection is opened (the benchmark's raw SQLite
  // ceiling opens its database the same way).
  static sqlite::Database::Options WriterDatabaseOptions(bool durable);
  // The schema by version (the benchmark's raw SQLite ceiling applies it
  // too).
  static const std::vector<sqlite::Migration>& Migrations();

  // The erasure's statements, public so a test can check their query plan
  // (an erasure must not scan the table): the kept keys, then the DELETE.
  // ?1 CustomerKey, ?2 tenant, ?3 customer hash.
  static const std::string& KeepErasedKeysSql();
  static const std::string& EraseEventsSql();
  // The next rows FillCustomerKeys fills, which runs at every open: through
  // the partial index of rows without a key, empty once they are filled
  // (with statistics, SQLite would rather skip-scan the customer index).
  static constexpr char kRowsWithoutCustomerKeySql[] =
      "SELECT sequence, customer_hash FROM events "
      "INDEXED BY events_without_customer_key "
      "WHERE customer_key IS NULL LIMIT 10000";

  // Opens (creating and migrating if needed) the database at `path` and
  // starts the writer thread.
  static absl::StatusOr<std::unique_ptr<SqliteEventStore>> Open(
      const std::string& path, CustomerHasher hasher,
      const SqliteEventStoreOptions& options);

  // Stops (see Stop) if not stopped yet.
  ~SqliteEventStore() override;

  absl::StatusOr<std::vector<FeedRecord>> ReadFeedRecords(
      absl::string_view tenant, int64_t from_sequence, int limit) override;
  absl::Status RecordReaderProgress(absl::string_view reader,
                                    int64_t applied_sequence,
                                    int64_t reported_at) override;
  absl::StatusOr<std::vector<ReaderProgress>> ReadReaderProgress() override;
  absl::StatusOr<std::vector<FeedRecord>> ReadEventRecords(
      const EventQuery& query) override;
  const std::string& feed_id() const override { return feed_id_; }

  // The writer connection's settings as found at Open: production needs
  // synchronous = 2 (FULL) and journal_mode = "wal".
  struct Durability {
    int synchronous = 0;
    std::string journal_mode;
  };
  const Durability& durability() const { return durability_; }

 private:
  // (tenant, channel, event_id) and what was stored under it in the open
  // transaction: views into the group's prepared events, which outlive it.
  using EventKey =
      std::tuple<absl::string_view, absl::string_view, absl::string_view>;
  struct Stored {
    absl::string_view fingerprint;
    int64_t sequence;
  };
  using StoredInGroup = absl::flat_hash_map<EventKey, Stored>;

  SqliteEventStore(std::string path,
                   std::unique_ptr<sqlite::Database> writer_db,
                   CustomerHasher hasher,
                   const SqliteEventStoreOptions& options,
                   int64_t last_sequence, std::string feed_id);

  // Loads what the writer keeps in memory (suppressions, erased keys) and
  // brings rows of older versions up to date: keyed fingerprints, customer
  // keys. Before the writer starts.
  absl::Status Prepare();
  // Gives the events stored before customer_key existed their key.
  absl::Status FillCustomerKeys();
  // One SAVEPOINT per batch.
  absl::Status WriteGroup(const std::vector<Pending>& group,
                          std::vector<BatchResult>& results,
                          int64_t& last_sequence) override;
  // Stores one batch inside the open transaction, adding what it stored to
  // `stored_in_group` and its keys to `batch_keys` (to be taken out again
  // if the batch is rolled back).
  absl::StatusOr<std::vector<polku::v1::EventResult>> WriteBatch(
      const Pending& pending, StoredInGroup& stored_in_group,
      std::vector<EventKey>& batch_keys, int64_t& last_sequence);
  absl::StatusOr<EraseResult> WriteErasure(const EraseOrder& order) override;
  // The next feed sequence, taken inside the open transaction.
  absl::StatusOr<int64_t> TakeSequence();

  const std::string path_;
  const SqliteEventStoreOptions options_;
  const std::string feed_id_;
  Durability durability_;

  // Used by the writer thread only.
  std::unique_ptr<sqlite::Database> writer_db_;
  // tenant + '\0' + customer hash of every suppressed customer.
  absl::flat_hash_set<std::string> suppressed_;
  // Whether any erased event's key is kept (else no need to look there).
  bool has_erased_keys_ = false;

  // Read-only connections for ReadFeedRecords.
  sqlite::ReaderPool readers_;
  // RecordReaderProgress's connection, opened on first use.
  absl::Mutex progress_mu_;
  std::unique_ptr<sqlite::Database> progress_db_ ABSL_GUARDED_BY(progress_mu_);
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_
