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
// single writer is also what makes sequence order equal commit order.
#ifndef POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_SQLITE_EVENT_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
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
  absl::StatusOr<std::vector<polku::v1::StoredEvent>> ReadFeed(
      absl::string_view tenant, int64_t from_sequence, int limit) override;
  FeedNotifier& notifier() override { return notifier_; }
  void Stop() override;

  // Transactions committed since Open: far fewer than batches under load
  // (metrics, and the test of group commit).
  int64_t transactions_committed() const { return transactions_committed_; }

  // Batches queued and not yet taken by the writer.
  size_t queue_depth() const;

 private:
  struct Pending {
    EventBatch batch;
    SubmitCallback done;
    absl::Time received_at;
  };

  SqliteEventStore(std::string path,
                   std::unique_ptr<sqlite::Database> writer_db,
                   CustomerHasher hasher,
                   const SqliteEventStoreOptions& options,
                   int64_t last_sequence);

  void WriterLoop();
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `group` in one transaction; on success fills `results` (one
  // vector per batch) and `last_sequence` (0 if nothing new was stored).
  absl::Status WriteGroup(
      const std::vector<Pending>& group,
      std::vector<std::vector<polku::v1::EventResult>>& results,
      int64_t& last_sequence);

  absl::StatusOr<std::unique_ptr<sqlite::Database>> TakeReader();
  void ReturnReader(std::unique_ptr<sqlite::Database> reader);

  const std::string path_;
  const SqliteEventStoreOptions options_;
  FeedNotifier notifier_;
  std::atomic<int64_t> transactions_committed_{0};

  // Used by the writer thread only.
  std::unique_ptr<sqlite::Database> writer_db_;
  CustomerHasher hasher_;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
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
