// What every EventStore implementation shares: the queue in front of one
// writer thread that stores concurrent submissions together (group commit),
// and the rules that decide an event's fate (fingerprint, duplicate,
// rejected, suppressed). SqliteEventStore and PgEventStore derive from it and
// supply only the transactions.
//
//   class MyStore : public GroupCommitStore {
//     MyStore() : GroupCommitStore(options, last_sequence, std::move(hasher)) {
//       StartWriter();
//     }
//     ~MyStore() override { Stop(); }  // before the members the writer uses go
//     absl::Status WriteGroup(…) override;            // one transaction
//     absl::StatusOr<EraseResult> WriteErasure(…) override;
//   };
//
// Submit first prepares each event on the caller's thread — customer hash,
// keyed fingerprint, the stored payload — so that the one writer thread does
// only what must be serial: the idempotency lookup, the insert, the commit.
//
// Group commit: every Submit only queues. The writer takes everything queued
// (up to max_events_per_transaction, and never past an erasure, which commits
// alone), hands it to WriteGroup as one transaction and only after that
// committed answers each batch. The queue holds at most max_queued_events,
// counting the batches still being prepared; a Submit beyond that is answered
// RESOURCE_EXHAUSTED at once, before any of its events is prepared, with a
// retry hint (SetRetryAfter) estimated from the current commit rate.
#ifndef POLKU_SERVICES_FEEDBACK_GROUP_COMMIT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_GROUP_COMMIT_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "lib/base/clock.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/feed_notifier.h"

namespace polku::feedback {

struct GroupCommitOptions {
  // A bound on one transaction, so a flood of submissions still gets
  // answered in slices rather than after one huge commit.
  size_t max_events_per_transaction = 5000;
  // Events admitted (being prepared, or queued) and not yet taken by the
  // writer; bounds memory.
  size_t max_queued_events = 50000;
  // The writer thread's nice value (0: as the process). The writer is the
  // one step of ingestion that cannot run in parallel, so on a machine it
  // shares with other busy processes a lower value (e.g. -10; needs
  // CAP_SYS_NICE) keeps it from waiting for a core (docs/ingestion.md).
  int writer_nice = 0;
  // Stamps received_at.
  const Clock* clock = &Clock::Real();
};

// An event as the writer stores it: everything that depends only on the
// event and its batch, computed before it is queued.
struct PreparedEvent {
  std::string event_id;
  std::string touchpoint;
  // Where the touchpoint sits (journey, version, stage).
  ResolvedTouchpoint where;
  // Unix microseconds.
  int64_t occurred_at = 0;
  // CustomerHasher::Hash of the customer reference.
  std::string customer_hash;
  // CustomerKey(customer_hash).
  int64_t customer_key = 0;
  // EventFingerprint of the event.
  std::string fingerprint;
  // The serialised StoredEvent without its sequence: the event with the
  // customer reference cleared (it lives on as `customer_hash`), stamped
  // with where its touchpoint sits and when it was received.
  std::string payload;
};

// The index key of a customer hash (CustomerHasher::Hash, 64 hex digits):
// its first 8 bytes as a signed 64-bit integer (two's complement). A fifth
// of the hex text's size and as scattered, so indexing it dirties far fewer
// pages per commit; the few customers sharing a key are told apart by the
// full hash. nullopt unless `customer_hash` starts with 16 hex digits.
std::optional<int64_t> CustomerKey(absl::string_view customer_hash);

// `valid` (of `tenant`'s `channel`, received at `received_at`) ready for the
// writer. Takes the event apart rather than copying it.
PreparedEvent PrepareEvent(const TenantHasher& hasher, absl::string_view tenant,
                           absl::string_view channel, ValidEvent valid,
                           absl::Time received_at);

class GroupCommitStore : public EventStore {
 public:
  ~GroupCommitStore() override;

  void Submit(EventBatch batch, SubmitCallback done) override;
  void Erase(std::string tenant, std::string customer, bool suppress_future,
             EraseCallback done) override;
  FeedNotifier& notifier() override { return notifier_; }
  // Commits everything already queued, then stops the writer. Blocks.
  void Stop() override;

  // Transactions committed since the store started: far fewer than batches
  // under load (metrics, and the test of group commit).
  int64_t transactions_committed() const { return transactions_committed_; }

  // Batches queued and not yet taken by the writer.
  size_t queue_depth() const;

 protected:
  struct EraseOrder {
    std::string tenant;
    std::string customer;
    bool suppress_future;
    EraseCallback done;
  };
  // A batch as Submit queued it.
  struct Pending {
    std::string tenant;
    std::string channel;
    std::vector<PreparedEvent> events;
    absl::Time received_at;
    SubmitCallback done;
  };
  using BatchResult = absl::StatusOr<std::vector<polku::v1::EventResult>>;

  GroupCommitStore(const GroupCommitOptions& options, int64_t last_sequence,
                   CustomerHasher hasher);

  // Starts the writer thread; once, when WriteGroup and WriteErasure can run.
  void StartWriter();

  // On the writer thread. Stores `group` in one transaction; on success
  // fills `results` (one per batch: its results, or the error that undid
  // that batch alone) and `last_sequence` (0 if nothing new was stored). An
  // error means nothing of the group is stored: every batch is answered
  // UNAVAILABLE (retrying is safe).
  virtual absl::Status WriteGroup(const std::vector<Pending>& group,
                                  std::vector<BatchResult>& results,
                                  int64_t& last_sequence) = 0;
  // On the writer thread: the erasure in one transaction (event_store.h).
  virtual absl::StatusOr<EraseResult> WriteErasure(const EraseOrder& order) = 0;

  const Clock& clock() const { return *options_.clock; }
  // Thread-safe.
  const CustomerHasher& hasher() const { return hasher_; }

 private:
  // A batch, or (if `erase` is set) an erasure.
  struct Work {
    Pending pending;
    std::unique_ptr<EraseOrder> erase;
  };

  // Takes room for `events` in the queue, or says why there is none
  // (UNAVAILABLE when stopping, else RESOURCE_EXHAUSTED with a retry hint).
  absl::Status Admit(size_t events) ABSL_LOCKS_EXCLUDED(mu_);
  void WriterLoop();
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const GroupCommitOptions options_;
  const CustomerHasher hasher_;
  FeedNotifier notifier_;
  std::atomic<int64_t> transactions_committed_{0};

  mutable absl::Mutex mu_;
  std::deque<Work> queue_ ABSL_GUARDED_BY(mu_);
  // Events of admitted batches (queued, or still being prepared) not yet
  // taken by the writer: what max_queued_events bounds.
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  // Writer time per event of the last group, for the retry hint.
  absl::Duration time_per_event_ ABSL_GUARDED_BY(mu_) = absl::Microseconds(10);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread writer_;
  bool stopped_ = false;  // Stop() joined the writer; owner's thread only
};

// Keyed hash of the event's deterministic encoding (map entries sorted) with
// the customer reference replaced by its keyed hash, so the same event
// re-sent always has the same fingerprint, yet the stored fingerprint cannot
// be used to confirm a guessed customer or content without the secret.
// `event.customer()` must already be the hash; `hasher` is the tenant's.
std::string EventFingerprint(const TenantHasher& hasher,
                             const polku::v1::TouchpointEvent& event);

// An event whose key was seen before: DUPLICATE with the original sequence
// if the fingerprints match, else REJECTED naming `event_id`.
void AnswerRepeat(absl::string_view stored_fingerprint, int64_t stored_sequence,
                  absl::string_view fingerprint,
                  polku::v1::EventResult& result);

// REJECTED naming `customer`: the customer was erased and suppressed.
void AnswerSuppressed(polku::v1::EventResult& result);

// The Erasure entry of the feed, without its sequence.
polku::v1::Erasure ErasureEntry(const std::string& tenant,
                                const std::string& customer_hash,
                                int64_t erased_events, bool suppressed,
                                absl::Time erased_at);

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToTimestamp(absl::Time t);

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_GROUP_COMMIT_STORE_H_
