// Tells change-feed readers that new events committed, without anyone
// blocking a thread to wait: a reader that has caught up registers a
// callback and gives its thread back.
//
//   FeedNotifier notifier(/*last_sequence=*/store_max);
//   int64_t seen = notifier.last_sequence();
//   … read the feed, find nothing new …
//   uint64_t id = notifier.Subscribe(seen, [] { schedule another read; });
//   if (id == 0) { something committed meanwhile: read again now }
//   …
//   notifier.Unsubscribe(id);  // e.g. the stream was cancelled
//
//   notifier.Publish(42);      // by the writer, after COMMIT returned
#ifndef POLKU_SERVICES_FEEDBACK_FEED_NOTIFIER_H_
#define POLKU_SERVICES_FEEDBACK_FEED_NOTIFIER_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace polku::feedback {

class FeedNotifier {
 public:
  explicit FeedNotifier(int64_t last_sequence = 0)
      : last_sequence_(last_sequence) {}

  FeedNotifier(const FeedNotifier&) = delete;
  FeedNotifier& operator=(const FeedNotifier&) = delete;

  // The highest committed sequence published so far.
  int64_t last_sequence() const;

  // Records that everything up to `sequence` is committed and runs, on the
  // calling thread and without any lock held, the callbacks now due.
  void Publish(int64_t sequence);

  // Registers `callback` to run once a sequence > `after` is published.
  // Returns its id, or 0 without registering (and without calling it) if
  // that already happened. Never calls `callback` itself, so callers may
  // hold their own lock.
  uint64_t Subscribe(int64_t after, std::function<void()> callback);

  // Removes subscription `id`. True if it was removed before running; false
  // if it already ran or is about to run (its callback then still runs).
  bool Unsubscribe(uint64_t id);

  // Runs every waiting callback now and makes every later Subscribe return
  // 0: readers read again at once, and find (e.g.) that the server is
  // shutting down. Publish works as before.
  void Close();

  // Subscriptions waiting (for metrics and tests).
  size_t waiting() const;

 private:
  struct Waiter {
    int64_t after;
    std::function<void()> callback;
  };

  mutable absl::Mutex mu_;
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_FEED_NOTIFIER_H_
