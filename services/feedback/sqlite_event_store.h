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
// Group commit: every Submit only queues. The writer takes everything
// queued (up to max_events_per_transaction), stores it in one
// BEGIN IMMEDIATE … COMMIT — one fsync for many callers, WAL and
// synchronous=FULL — and only after COMMIT returns answers each batch. The
// single writer is also what makes sequence order equal commit order. Each
// batch gets its own SAVEPOINT: a batch whose statements fail is rolled back
// alone and answered INTERNAL while the rest of the group commits; only a
// failed BEGIN or COMMIT fails everyone (UNAVAILABLE, safe to retry).
//
// The queue in front of the writer holds at most max_queued_events; a Submit
// beyond that is answered RESOURCE_EXHAUSTED at once, with a retry hint
// (SetRetryAfter) estimated from the current commit rate.
#ifndef POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/sqlite/sqlite.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/feed_notifier.h"

namespace polku::feedback {

struct SqliteEventStoreOptions {
  // WAL + synchronous=FULL. Tests may turn it off; production never does.
  bool durable = true;
  // A bound on one transaction, so a flood of submissions still gets
  // answered in slices rather than after one huge commit.
  size_t max_events_per_transaction = 5000;
  // Events queued and not yet taken by the writer; bounds memory.
  size_t max_queued_events = 50000;
  // Stamps received_at.
  const Clock* clock = &Clock::Real();
};

class SqliteEventStore : public EventStore {
 public:
  // Opens (creating and migrating if needed) the database at `path` and
  // starts the writer thread.
  static absl::StatusOr<std::unique_ptr<SqliteEventStore>> Open(
      const std::string& path, CustomerHasher hasher,
      const SqliteEventStoreOptions& options);

  // Stops (see Stop) if not stopped yet.
  ~SqliteEventStore() override;

  void Submit(EventBatch batch, SubmitCallback done) override;
  void Erase(std::string tenant, std::string customer, bool suppress_future,
             EraseCallback done) override;
  absl::StatusOr<std::vector<FeedEntry>> ReadFeed(absl::string_view tenant,
                                                  int64_t from_sequence,
                                                  int limit) override;
  FeedNotifier& notifier() override { return notifier_; }
  const std::string& feed_id() const override { return feed_id_; }
  void Stop() override;

  // The writer connection's settings as found at Open: production needs
  // synchronous = 2 (FULL) and journal_mode = "wal".
  struct Durability {
    int synchronous = 0;
    std::string journal_mode;
  };
  const Durability& durability() const { return durability_; }

  // Transactions committed since Open: far fewer than batches under load
  // (metrics, and the test of group commit).
  int64_t transactions_committed() const { return transactions_committed_; }

  // Batches queued and not yet taken by the writer.
  size_t queue_depth() const;

 private:
  struct EraseOrder {
    std::string tenant;
    std::string customer;
    bool suppress_future;
    EraseCallback done;
  };
  // A batch, or (if `erase` is set) an erasure, which commits alone.
  struct Pending {
    EventBatch batch;
    SubmitCallback done;
    absl::Time received_at;
    std::unique_ptr<EraseOrder> erase;
  };
  using BatchResult = absl::StatusOr<std::vector<polku::v1::EventResult>>;
  struct Stored {
    std::string fingerprint;
    int64_t sequence;
  };
  using EventKey = std::tuple<std::string, std::string, std::string>;

  SqliteEventStore(std::string path,
                   std::unique_ptr<sqlite::Database> writer_db,
                   CustomerHasher hasher,
                   const SqliteEventStoreOptions& options,
                   int64_t last_sequence, std::string feed_id);

  // Loads what the writer keeps in memory (suppressions, erased keys) and
  // brings old fingerprints to the keyed form. Before the writer starts.
  absl::Status Prepare();
  void WriterLoop();
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `group` in one transaction, one SAVEPOINT per batch; on success
  // fills `results` (one per batch: its results, or the error that rolled
  // it back) and `last_sequence` (0 if nothing new was stored). An error
  // means BEGIN or COMMIT failed and nothing is stored.
  absl::Status WriteGroup(const std::vector<Pending>& group,
                          std::vector<BatchResult>& results,
                          int64_t& last_sequence);
  // Stores one batch inside the open transaction.
  absl::StatusOr<std::vector<polku::v1::EventResult>> WriteBatch(
      const Pending& pending,
      const absl::flat_hash_map<EventKey, Stored>& stored_earlier,
      absl::flat_hash_map<EventKey, Stored>& stored_now,
      int64_t& last_sequence);
  absl::StatusOr<EraseResult> WriteErasure(const EraseOrder& order,
                                           std::string& suppressed_key);
  // The next feed sequence, taken inside the open transaction.
  absl::StatusOr<int64_t> TakeSequence();

  absl::StatusOr<std::unique_ptr<sqlite::Database>> TakeReader();
  void ReturnReader(std::unique_ptr<sqlite::Database> reader);

  const std::string path_;
  const SqliteEventStoreOptions options_;
  FeedNotifier notifier_;
  std::atomic<int64_t> transactions_committed_{0};
  const std::string feed_id_;
  Durability durability_;

  // Used by the writer thread only.
  std::unique_ptr<sqlite::Database> writer_db_;
  CustomerHasher hasher_;
  // tenant + '\0' + customer hash of every suppressed customer.
  absl::flat_hash_set<std::string> suppressed_;
  // Whether any erased event's key is kept (else no need to look there).
  bool has_erased_keys_ = false;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  // Writer time per event of the last group, for the retry hint.
  absl::Duration time_per_event_ ABSL_GUARDED_BY(mu_) = absl::Microseconds(10);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex readers_mu_;
  // Idle read-only connections; ReadFeed opens another when none is idle.
  std::vector<std::unique_ptr<sqlite::Database>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);

  std::thread writer_;
  bool stopped_ = false;  // Stop() joined the writer; owner's thread only
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_
