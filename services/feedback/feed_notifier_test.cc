#include "services/feedback/feed_notifier.h"

#include <gtest/gtest.h>

namespace polku::feedback {
namespace {

TEST(FeedNotifierTest, ACallbackRunsOnceWhenALaterSequenceCommits) {
  FeedNotifier notifier(10);
  int calls = 0;
  const uint64_t id = notifier.Subscribe(10, [&] { ++calls; });
  ASSERT_NE(id, 0u);
  notifier.Publish(10);  // nothing new
  EXPECT_EQ(calls, 0);
  notifier.Publish(11);
  EXPECT_EQ(calls, 1);
  notifier.Publish(12);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(notifier.last_sequence(), 12);
  EXPECT_EQ(notifier.waiting(), 0u);
}

TEST(FeedNotifierTest, SubscribingAfterTheFactReturnsZeroWithoutCalling) {
  FeedNotifier notifier(5);
  int calls = 0;
  EXPECT_EQ(notifier.Subscribe(4, [&] { ++calls; }), 0u);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(notifier.waiting(), 0u);
}

TEST(FeedNotifierTest, UnsubscribedCallbacksNeverRun) {
  FeedNotifier notifier;
  int calls = 0;
  const uint64_t id = notifier.Subscribe(0, [&] { ++calls; });
  EXPECT_TRUE(notifier.Unsubscribe(id));
  notifier.Publish(1);
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(notifier.Unsubscribe(id));
}

TEST(FeedNotifierTest, UnsubscribeAfterTheCallbackRanReportsFalse) {
  FeedNotifier notifier;
  int calls = 0;
  const uint64_t id = notifier.Subscribe(0, [&] { ++calls; });
  notifier.Publish(3);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(notifier.Unsubscribe(id));
}

TEST(FeedNotifierTest, ACallbackMaySubscribeAgain) {
  // Readers re-subscribe from their callbacks' threads; no lock is held.
  FeedNotifier notifier;
  int calls = 0;
  std::function<void()> again = [&] {
    ++calls;
    notifier.Subscribe(notifier.last_sequence(), again);
  };
  notifier.Subscribe(0, again);
  notifier.Publish(1);
  notifier.Publish(2);
  EXPECT_EQ(calls, 2);
}

TEST(FeedNotifierTest, TheSequenceNeverGoesBack) {
  FeedNotifier notifier(7);
  notifier.Publish(3);
  EXPECT_EQ(notifier.last_sequence(), 7);
}

TEST(FeedNotifierTest, CloseWakesEveryWaiterAndRefusesNewOnes) {
  // The drain: waiting readers read again at once (and see the server is
  // shutting down); a reader that subscribes afterwards is not parked.
  FeedNotifier notifier(5);
  int woken = 0;
  notifier.Subscribe(5, [&] { ++woken; });
  notifier.Subscribe(9, [&] { ++woken; });
  notifier.Close();
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(notifier.waiting(), 0u);
  EXPECT_EQ(notifier.Subscribe(5, [&] { ++woken; }), 0u);
  notifier.Publish(6);
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(notifier.last_sequence(), 6);
}

}  // namespace
}  // namespace polku::feedback
