// Erasure receipts: which readers of the change feed that hold customer
// data (polku-insight, polku-cases: --erasure_readers) have applied an
// erasure, and a wait until all have, for EraseCustomer.
//
// Readers report their durable checkpoint (FeedReaderService.ReportProgress,
// from lib/feed's FeedTailer): after every erasure page at once, otherwise
// about once a second and on every (re)connect. A reader has applied the
// erasure at sequence S once it reported a checkpoint >= S, since it
// applies the feed in order. Replicas of one reader share its database, so
// the reader's progress is the highest any of them reported.
//
// A reader reports to whichever replica of polku-feedback its feed stream
// is on, so the replica that waits may not hear it: each replica stores the
// reports it receives (EventStore::RecordReaderProgress, by the caller) and
// this reads every replica's from the store (the progress source): while
// waits are pending, once every `poll` on the timer thread (one query for
// all readers), and on Refresh (GetErasureReceipt). A local report answers
// waits at once. What the store gives is merged into the same per-reader
// steps: a stored level's time is the report that raised it, so for an
// erasure below it that this replica saw no step for, confirmed_at is that
// later time (later than the truth, never earlier).
//
//   ErasureReceipts receipts({"polku-insight", "polku-cases"},
//                            [&store] { return store.feed_id(); }, clock);
//   receipts.SetProgressSource(
//       [&store] { return store.ReadReaderProgress(); },
//       absl::Milliseconds(250));
//   receipts.StartTimer();
//   receipts.Wait(sequence, deadline, [](v1::ErasureReceipt r) { … });
//   receipts.Report("polku-cases", feed_id, 42);  // may answer the wait
#ifndef POLKU_SERVICES_FEEDBACK_ERASURE_RECEIPTS_H_
#define POLKU_SERVICES_FEEDBACK_ERASURE_RECEIPTS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "absl/status/statusor.h"
#include "polku/v1/feedback.pb.h"
#include "services/feedback/event_store.h"

namespace polku::feedback {

class ErasureReceipts {
 public:
  using Done = std::function<void(polku::v1::ErasureReceipt)>;

  // Reports kept per reader, to tell when a reader first covered an older
  // erasure (ReaderReceipt.confirmed_at); past this, the oldest kept one's
  // time stands for older erasures (later than the truth, never earlier).
  static constexpr size_t kStepsPerReader = 4096;
  // Distinct reader names accepted; more is RESOURCE_EXHAUSTED.
  static constexpr size_t kMaxReaders = 16;

  // `required`: the readers every receipt waits for, in receipt order;
  // `feed_id`: this server's feed (WatchEventsResponse.feed_id), asked on
  // each report since PostgreSQL's is known only once connected (empty
  // until then).
  ErasureReceipts(std::vector<std::string> required,
                  std::function<std::string()> feed_id, const Clock& clock);
  // Stops the timer; waits still pending are answered as they stand.
  ~ErasureReceipts();

  ErasureReceipts(const ErasureReceipts&) = delete;
  ErasureReceipts& operator=(const ErasureReceipts&) = delete;

  using ProgressSource =
      std::function<absl::StatusOr<std::vector<ReaderProgress>>()>;

  // Where every replica's stored reports are read (blocking: called on the
  // timer thread and by Refresh), and how often the timer reads it while
  // waits are pending. Call before StartTimer; without, only local reports
  // count (one replica; unit tests).
  void SetProgressSource(ProgressSource source, absl::Duration poll);

  // Reads the progress source (if set) and merges it: for an answer that
  // includes what other replicas heard. Blocks on storage.
  absl::Status Refresh();

  // Merges stored progress (ReaderProgress times are Unix microseconds)
  // and answers the waits this completes, outside the lock.
  void Merge(const std::vector<ReaderProgress>& progress);

  // The clock deadlines are on (EraseCustomer's wait).
  const Clock& clock() const { return clock_; }

  // Whether any reader is required; without, there are no receipts.
  bool enabled() const { return !required_.empty(); }

  // Records that `reader` applied the feed through `applied_sequence`, and
  // answers the waits this completes (on the calling thread, outside the
  // lock). FAILED_PRECONDITION for another feed, UNAVAILABLE while this
  // server's feed is not known yet; INVALID_ARGUMENT naming
  // the field for an empty reader or a negative sequence.
  absl::Status Report(absl::string_view reader, absl::string_view feed_id,
                      int64_t applied_sequence);

  // The receipt of the erasure at `sequence` as it stands.
  polku::v1::ErasureReceipt Receipt(int64_t sequence) const;

  // Calls `done` exactly once: with the complete receipt as soon as it is
  // complete (at once if it is already), else with the receipt as it stands
  // once `deadline` has passed (ExpireDue, run by the timer) or on
  // ExpireAll. Never blocks.
  void Wait(int64_t sequence, absl::Time deadline, Done done);

  // Answers every wait whose deadline is at or before `now`. The timer
  // thread calls it; tests call it with a fake clock's time.
  void ExpireDue(absl::Time now);

  // Answers every wait now, and every later one at once (the server is
  // draining).
  void ExpireAll();

  // Waits not yet answered.
  int waiting() const;

  // Starts the thread that runs ExpireDue as deadlines pass (by the real
  // time: use with Clock::Real()). Call at most once.
  void StartTimer();

 private:
  struct Step {
    int64_t sequence;
    absl::Time at;
  };
  struct Waiter {
    int64_t sequence;
    absl::Time deadline;
    Done done;
  };

  polku::v1::ErasureReceipt ReceiptLocked(int64_t sequence) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Which waits TakeWaiters answers.
  enum class Answer { kComplete, kDue, kAll };
  // Removes and returns the waits to answer (complete ones, those due at
  // `now`, or all), with their receipts.
  std::vector<std::pair<Done, polku::v1::ErasureReceipt>> TakeWaiters(
      Answer answer, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunTimer();
  bool TimerShouldWake() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || wake_;
  }

  // Adds `sequence` reached at `at` to `reader`'s steps if it is higher
  // than the last; false if the reader is one too many (kMaxReaders).
  bool AddStepLocked(absl::string_view reader, int64_t sequence, absl::Time at,
                     absl::Time reported_at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> required_;
  const std::function<std::string()> feed_id_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  // Per reader: its reports, sequences strictly increasing.
  std::map<std::string, std::deque<Step>, std::less<>> steps_
      ABSL_GUARDED_BY(mu_);
  // Per reader: its last report's time.
  std::map<std::string, absl::Time, std::less<>> reported_at_
      ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_ ABSL_GUARDED_BY(mu_) = 1;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A wait with an earlier deadline than the timer sleeps for arrived.
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;
  // Set before StartTimer, then only read.
  ProgressSource source_;
  absl::Duration poll_ = absl::Milliseconds(250);
  // Whether the last read of the source failed (logged once per failure).
  bool source_failing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_ERASURE_RECEIPTS_H_
