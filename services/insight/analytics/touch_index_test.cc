#include "services/insight/analytics/touch_index.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::MakeEvent;

void AddEvents(FakeRollupStore& store, int64_t& sequence, int events) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (int i = 0; i < events; ++i) {
    ++sequence;
    *page.Add() = MakeEvent({.sequence = sequence,
                             .offset_seconds = 1000 - sequence,
                             .csat = 1 + static_cast<int>(sequence % 5),
                             .customer_hash = absl::StrCat("c", sequence % 7)});
  }
  ASSERT_TRUE(store.Apply(page).ok());
}

// Two reads of one journey run at once: each waits, inside its read, for the
// other to be inside its own. Were reads to take turns, neither would see
// the other (and each would give up after the timeout).
TEST(TouchIndexTest, ReadsOfOneJourneyRunSideBySide) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddEvents(store, sequence, 50);
  TouchIndex index(store, store);
  absl::Notification inside[2];
  bool saw_other[2] = {false, false};
  int64_t held[2] = {0, 0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&, i] {
      const absl::Status status =
          index.Read("acme", "switching", [&](const TouchView& view) {
            inside[i].Notify();
            saw_other[i] =
                inside[1 - i].WaitForNotificationWithTimeout(absl::Seconds(30));
            for (size_t c = 0; c < view.customers(); ++c) {
              held[i] += static_cast<int64_t>(view.touches(c).size());
            }
          });
      EXPECT_TRUE(status.ok()) << status;
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_TRUE(saw_other[0]);
  EXPECT_TRUE(saw_other[1]);
  EXPECT_EQ(held[0], 50);
  EXPECT_EQ(held[1], 50);
}

// What a read sees follows the ledger: new events (earlier in time than
// those held), then an erasure; each customer's touches stay in time order.
TEST(TouchIndexTest, FollowsNewEventsAndErasures) {
  FakeRollupStore store;
  int64_t sequence = 0;
  AddEvents(store, sequence, 30);
  TouchIndex index(store, store);
  const auto read = [&](int64_t& events, int64_t& as_of) {
    events = 0;
    ASSERT_TRUE(index
                    .Read("acme", "switching",
                          [&](const TouchView& view) {
                            as_of = view.as_of();
                            for (size_t c = 0; c < view.customers(); ++c) {
                              const std::vector<Touch>& touches = view.touches(c);
                              events += static_cast<int64_t>(touches.size());
                              for (size_t k = 1; k < touches.size(); ++k) {
                                EXPECT_LE(touches[k - 1].at, touches[k].at);
                              }
                            }
                          })
                    .ok());
  };
  int64_t events = 0, as_of = 0;
  read(events, as_of);
  EXPECT_EQ(events, 30);
  EXPECT_EQ(as_of, 30);
  AddEvents(store, sequence, 20);
  read(events, as_of);
  EXPECT_EQ(events, 50);
  EXPECT_EQ(as_of, 50);
  v1::Erasure erasure;
  erasure.set_sequence(++sequence);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("c3");  // sequences 3, 10, …, 45: 7 events
  ASSERT_TRUE(store.ApplyErasure(erasure).ok());
  read(events, as_of);
  EXPECT_EQ(events, 43);
  EXPECT_EQ(as_of, sequence);
  EXPECT_EQ(index.events(), 43);
}

}  // namespace
}  // namespace polku::insight
