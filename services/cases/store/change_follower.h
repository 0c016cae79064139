// Follows a CaseStore's change sequence and hands every change to a
// listener, in sequence order, exactly once: how WatchCases on one replica
// sees the changes every replica on the database commits (docs/cases.md).
//
//   ChangeFollower follower(store, [&](const CaseChange& c) { … },
//                           [&] { /* changes lost: end every watch */ });
//   follower.Start();  // follows from the changes committed from now on
//   …
//   follower.Stop();
//
// It reads pages of at most `page_size` changes, so its memory is bounded
// by a page. It reads again when a local transaction commits changes (the
// store's commit observer), when another replica's commit is heard (the
// backend's ListenForCommits: PostgreSQL's LISTEN/NOTIFY), and at least
// every `poll_interval` in any case. A follower that falls behind by more
// than the store keeps (CaseStore::Options::change_retention, e.g. after
// the database was unreachable for long) cannot send what it missed: it
// calls `on_lost` and goes on from the oldest change kept.
#ifndef POLKU_SERVICES_CASES_STORE_CHANGE_FOLLOWER_H_
#define POLKU_SERVICES_CASES_STORE_CHANGE_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

class ChangeFollower {
 public:
  struct Options {
    // The longest a change committed by another replica waits before it is
    // read, when no notification wakes the follower sooner.
    absl::Duration poll_interval = absl::Milliseconds(500);
    // Changes read at a time, taken into 1…1000.
    int page_size = 100;
  };

  // `store` must outlive the follower; the listeners are called on the
  // follower's thread (or CatchUp's caller), one call at a time.
  ChangeFollower(CaseStore& store, CaseChangeListener on_change,
                 std::function<void()> on_lost, Options options);
  ChangeFollower(CaseStore& store, CaseChangeListener on_change,
                 std::function<void()> on_lost)
      : ChangeFollower(store, std::move(on_change), std::move(on_lost),
                       Options()) {}
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  // Follows from the last committed change (read once the thread runs,
  // retried while the database cannot be reached), on a thread of its own.
  void Start();
  // Returns once the threads have ended; no listener call runs after it.
  void Stop();

  // Sets the position (the last change already handed on), e.g. in tests.
  void StartAfter(int64_t sequence);
  // Reads and hands on every change committed after the position, then
  // returns how many it handed on (erased ones are skipped).
  absl::StatusOr<int> CatchUp();
  // Reads again soon (a commit happened).
  void Wake();

  // The last change handed on (or skipped).
  int64_t position();

 private:
  static Options Clamped(Options options);
  void Loop();

  CaseStore& store_;
  const CaseChangeListener on_change_;
  const std::function<void()> on_lost_;
  const Options options_;
  // Held while a page is read and handed on: one caller at a time.
  absl::Mutex follow_mu_;
  int64_t position_ ABSL_GUARDED_BY(follow_mu_) = -1;  // -1: not yet read
  absl::Mutex wake_mu_;
  bool woken_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  absl::Notification stop_listening_;
  std::thread thread_;
  std::thread listener_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_STORE_CHANGE_FOLLOWER_H_
