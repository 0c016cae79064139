// What GroupCommitStore decides on its own, whatever the storage: which
// batches get into the writer's queue, and what that costs a refused caller.
// The store here keeps nothing; its writer numbers each group's events.
// What the stores do with a group is in event_store_conformance_test.cc.
#include "services/feedback/group_commit_store.h"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/base/thread.h"
#include "services/feedback/event_store_test_util.h"
#include "services/feedback/retry_hint.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using testing::Batch;
using ::testing::ElementsAre;
using testing::Event;
using testing::kWait;
using testing::Pending;

// Counts its readings, and can hold one until released. The store reads the
// time once per batch, to stamp received_at, which every event needs before
// it can be prepared: a batch whose time was never read was not prepared.
class WatchedClock : public Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    ++readings_;
    if (hold_next_) {
      hold_next_ = false;
      holding_ = true;
      mu_.Await(absl::Condition(this, &WatchedClock::Released));
    }
    return absl::FromUnixSeconds(1'714'564'800);
  }

  int readings() const {
    absl::MutexLock lock(&mu_);
    return readings_;
  }
  // The next reading waits until Release.
  void HoldNextReading() {
    absl::MutexLock lock(&mu_);
    hold_next_ = true;
  }
  // Whether a reading is held (waits for one up to `timeout`).
  bool AwaitHeldReading(absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(this, &WatchedClock::Holding),
                                timeout);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    holding_ = false;
  }

 private:
  bool Holding() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return holding_; }
  bool Released() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !holding_; }

  mutable absl::Mutex mu_;
  mutable int readings_ ABSL_GUARDED_BY(mu_) = 0;
  mutable bool hold_next_ ABSL_GUARDED_BY(mu_) = false;
  mutable bool holding_ ABSL_GUARDED_BY(mu_) = false;
};

// Stores nothing: its writer accepts every event of a group under the next
// sequence, once it is let through.
class NumberingStore : public GroupCommitStore {
 public:
  NumberingStore(const Clock& clock, size_t max_queued_events,
                 int writer_nice = 0)
      : GroupCommitStore({.max_queued_events = max_queued_events,
                          .writer_nice = writer_nice,
                          .clock = &clock},
                         /*last_sequence=*/0,
                         CustomerHasher(testing::TestSecret())) {
    StartWriter();
  }
  ~NumberingStore() override { Stop(); }

  // The writer waits inside the next group it takes, until ReleaseWriter.
  void HoldWriter() {
    absl::MutexLock lock(&gate_mu_);
    hold_ = true;
  }
  // Whether the writer waits inside a group (waits for it up to `timeout`).
  bool AwaitWriterHeld(absl::Duration timeout) {
    absl::MutexLock lock(&gate_mu_);
    return gate_mu_.AwaitWithTimeout(
        absl::Condition(this, &NumberingStore::WriterHeld), timeout);
  }
  void ReleaseWriter() {
    absl::MutexLock lock(&gate_mu_);
    hold_ = false;
  }

  absl::StatusOr<std::vector<FeedRecord>> ReadFeedRecords(absl::string_view,
                                                          int64_t,
                                                          int) override {
    return absl::UnimplementedError("NumberingStore keeps no feed");
  }
  absl::StatusOr<std::vector<FeedRecord>> ReadEventRecords(
      const EventQuery&) override {
    return absl::UnimplementedError("NumberingStore keeps no events");
  }
  const std::string& feed_id() const override { return feed_id_; }

 private:
  absl::Status WriteGroup(const std::vector<Pending>& group,
                          std::vector<BatchResult>& results,
                          int64_t& last_sequence) override {
    {
      absl::MutexLock lock(&gate_mu_);
      writer_held_ = hold_;
      gate_mu_.Await(absl::Condition(this, &NumberingStore::LetThrough));
      writer_held_ = false;
    }
    for (const Pending& pending : group) {
      std::vector<EventResult>& batch = results.emplace_back().emplace();
      for (const PreparedEvent& event : pending.events) {
        EventResult& result = batch.emplace_back();
        result.set_event_id(event.event_id);
        result.set_outcome(EventResult::ACCEPTED);
        result.set_sequence(++last_sequence_);
      }
    }
    last_sequence = last_sequence_;
    return absl::OkStatus();
  }
  absl::StatusOr<EraseResult> WriteErasure(const EraseOrder&) override {
    return absl::UnimplementedError("NumberingStore erases nothing");
  }

  bool WriterHeld() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) {
    return writer_held_;
  }
  bool LetThrough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate_mu_) {
    return !hold_;
  }

  const std::string feed_id_;
  absl::Mutex gate_mu_;
  bool hold_ ABSL_GUARDED_BY(gate_mu_) = false;
  bool writer_held_ ABSL_GUARDED_BY(gate_mu_) = false;
  int64_t last_sequence_ = 0;  // writer thread only
};

// The nice value of every thread of this process named `name`.
std::vector<int> NicesOfThreadsNamed(const std::string& name) {
  std::vector<int> nices;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    int tid;
    if (thread_name != name ||
        !absl::SimpleAtoi(task.path().filename().string(), &tid)) {
      continue;
    }
    nices.push_back(getpriority(PRIO_PROCESS, static_cast<id_t>(tid)));
  }
  return nices;
}

void SubmitTo(EventStore& store, EventBatch batch, Pending& pending) {
  store.Submit(std::move(batch), [&pending](auto results) {
    pending.out = std::move(results);
    pending.done.Notify();
  });
}

TEST(GroupCommitStoreTest, ARefusedBatchIsAnsweredWithoutPreparingItsEvents) {
  WatchedClock clock;
  NumberingStore store(clock, /*max_queued_events=*/3);
  store.HoldWriter();
  Pending taken, queued, refused;
  SubmitTo(store, Batch({Event("taken")}), taken);
  ASSERT_TRUE(store.AwaitWriterHeld(kWait));  // taken: the queue is empty
  SubmitTo(store, Batch({Event("q-1"), Event("q-2")}), queued);
  ASSERT_EQ(clock.readings(), 2);  // each admitted batch was stamped

  SubmitTo(store, Batch({Event("q-3"), Event("q-4")}), refused);  // 4 > 3
  // At once, on the caller's thread, and with nothing stamped or prepared.
  ASSERT_TRUE(refused.done.HasBeenNotified());
  EXPECT_EQ(refused.out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.out.status().message().find("writer queue is full"),
            std::string::npos);
  EXPECT_TRUE(RetryAfter(refused.out.status()).has_value());
  EXPECT_EQ(clock.readings(), 2);

  store.ReleaseWriter();
  ASSERT_TRUE(queued.done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(queued.out.ok()) << queued.out.status();
  EXPECT_EQ((*queued.out)[1].outcome(), EventResult::ACCEPTED);
}

TEST(GroupCommitStoreTest, ABatchBeingPreparedHoldsItsRoomInTheQueue) {
  WatchedClock clock;
  NumberingStore store(clock, /*max_queued_events=*/3);
  clock.HoldNextReading();
  Pending first, second, third;
  std::thread preparing([&] {
    SubmitTo(store, Batch({Event("e-1"), Event("e-2")}), first);
  });
  absl::Cleanup let_it_finish = [&] {
    clock.Release();
    preparing.join();
  };
  ASSERT_TRUE(clock.AwaitHeldReading(kWait));  // admitted, not yet queued
  EXPECT_EQ(store.queue_depth(), 0u);

  // It would fit the queue as it is, but not beside the first batch: two
  // callers admitted into the same room would overfill the queue.
  SubmitTo(store, Batch({Event("e-3"), Event("e-4")}), second);
  ASSERT_TRUE(second.done.HasBeenNotified());
  EXPECT_EQ(second.out.status().code(), absl::StatusCode::kResourceExhausted);

  // The first, admitted, is never refused once it has paid for preparing.
  std::move(let_it_finish).Invoke();
  ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(kWait));
  ASSERT_TRUE(first.out.ok()) << first.out.status();
  EXPECT_EQ((*first.out)[1].sequence(), 2);
  // Its room is free again once the writer took it.
  SubmitTo(store, Batch({Event("e-3"), Event("e-4"), Event("e-5")}), third);
  ASSERT_TRUE(third.done.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(third.out.ok()) << third.out.status();
}

TEST(GroupCommitStoreTest, ABatchStillBeingPreparedWhenTheStoreStopsIsRefused) {
  WatchedClock clock;
  NumberingStore store(clock, /*max_queued_events=*/3);
  clock.HoldNextReading();
  Pending pending;
  std::thread preparing(
      [&] { SubmitTo(store, Batch({Event("e-1")}), pending); });
  absl::Cleanup let_it_finish = [&] {
    clock.Release();
    preparing.join();
  };
  ASSERT_TRUE(clock.AwaitHeldReading(kWait));  // admitted, not yet queued
  store.Stop();  // the writer finds nothing queued and ends
  std::move(let_it_finish).Invoke();
  // Answered rather than queued where no writer will ever take it.
  ASSERT_TRUE(pending.done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(pending.out.status().code(), absl::StatusCode::kUnavailable);
}

TEST(GroupCommitStoreTest, TheWriterThreadIsNamedAndRunsAtTheConfiguredNice) {
  WatchedClock clock;
  const int process_nice = ThisThreadNice();
  if (process_nice + 4 > kMaxNice) GTEST_SKIP() << "at nice " << process_nice;
  // Raising it needs no privilege, so this holds for any user.
  NumberingStore store(clock, /*max_queued_events=*/10, process_nice + 4);
  Pending stored;
  SubmitTo(store, Batch({Event("e-1")}), stored);
  // The writer answered, so it runs its loop, with its priority set.
  ASSERT_TRUE(stored.done.WaitForNotificationWithTimeout(kWait));
  EXPECT_THAT(NicesOfThreadsNamed("polku-writer"),
              ElementsAre(process_nice + 4));
  EXPECT_EQ(ThisThreadNice(), process_nice);  // the caller's is its own
}

}  // namespace
}  // namespace polku::feedback
