#include "lib/rpc/push_queue.h"

#include "gtest/gtest.h"
#include "polku/v1/journey.pb.h"

namespace polku::rpc {
namespace {

using ::polku::v1::WatchJourneysResponse;
// The queue of the journey watch, where these tests began.
using WatchQueue = PushQueue<WatchJourneysResponse>;

WatchJourneysResponse Message(const std::string& key) {
  WatchJourneysResponse message;
  message.add_journeys()->mutable_journey()->set_key(key);
  return message;
}

std::string WrittenKey(const WatchQueue::Action& action) {
  if (action.write == nullptr) return "";
  return action.write->journeys(0).journey().key();
}

TEST(WatchQueueTest, OneWriteInFlightMessagesInOrder) {
  WatchQueue queue(10);
  EXPECT_EQ(WrittenKey(queue.Push(Message("a"))), "a");
  // "a" is still being written: the others wait.
  EXPECT_EQ(queue.Push(Message("b")).write, nullptr);
  EXPECT_EQ(queue.Push(Message("c")).write, nullptr);
  EXPECT_EQ(queue.pending(), 2u);

  EXPECT_EQ(WrittenKey(queue.WriteDone(true)), "b");
  EXPECT_EQ(WrittenKey(queue.WriteDone(true)), "c");
  WatchQueue::Action idle = queue.WriteDone(true);
  EXPECT_EQ(idle.write, nullptr);
  EXPECT_FALSE(idle.finish.has_value());

  // Idle again: the next message is written at once.
  EXPECT_EQ(WrittenKey(queue.Push(Message("d"))), "d");
}

TEST(WatchQueueTest, SlowSubscriberIsFinishedWithResourceExhausted) {
  WatchQueue queue(2);
  ASSERT_NE(queue.Push(Message("in-flight")).write, nullptr);
  queue.Push(Message("1"));
  queue.Push(Message("2"));
  // The third message behind is one too many; the write in flight must
  // complete before the stream may finish.
  WatchQueue::Action overflow = queue.Push(Message("3"));
  EXPECT_EQ(overflow.write, nullptr);
  EXPECT_FALSE(overflow.finish.has_value());
  EXPECT_TRUE(queue.closing());

  WatchQueue::Action done = queue.WriteDone(true);
  EXPECT_EQ(done.write, nullptr);
  ASSERT_TRUE(done.finish.has_value());
  EXPECT_EQ(done.finish->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(done.finish->message().find("fresh snapshot"), std::string::npos);

  // Nothing more happens after the finish.
  WatchQueue::Action after = queue.Push(Message("4"));
  EXPECT_EQ(after.write, nullptr);
  EXPECT_FALSE(after.finish.has_value());
}

TEST(WatchQueueTest, CloseWhenIdleFinishesAtOnceAndOnlyOnce) {
  WatchQueue queue(10);
  WatchQueue::Action close = queue.Close(absl::CancelledError("bye"));
  ASSERT_TRUE(close.finish.has_value());
  EXPECT_EQ(close.finish->code(), absl::StatusCode::kCancelled);

  EXPECT_FALSE(queue.Close(absl::UnavailableError("again")).finish.has_value());
  EXPECT_EQ(queue.Push(Message("late")).write, nullptr);
}

TEST(WatchQueueTest, CloseDuringWriteWaitsForIt) {
  WatchQueue queue(10);
  ASSERT_NE(queue.Push(Message("a")).write, nullptr);
  queue.Push(Message("b"));
  EXPECT_FALSE(
      queue.Close(absl::UnavailableError("shutdown")).finish.has_value());

  WatchQueue::Action done = queue.WriteDone(true);
  EXPECT_EQ(done.write, nullptr);  // "b" is dropped, not written
  ASSERT_TRUE(done.finish.has_value());
  EXPECT_EQ(done.finish->code(), absl::StatusCode::kUnavailable);
}

TEST(WatchQueueTest, FailedWriteFinishesTheStream) {
  WatchQueue queue(10);
  ASSERT_NE(queue.Push(Message("a")).write, nullptr);
  queue.Push(Message("b"));
  WatchQueue::Action failed = queue.WriteDone(false);
  EXPECT_EQ(failed.write, nullptr);
  ASSERT_TRUE(failed.finish.has_value());
  EXPECT_EQ(failed.finish->code(), absl::StatusCode::kCancelled);
  // A cancellation arriving afterwards must not finish a second time.
  EXPECT_FALSE(queue.Close(absl::CancelledError("cancel")).finish.has_value());
}

// End (the server shutting down, a stream's last message): what is queued
// is still written, in order, then the stream finishes; nothing new is taken.
TEST(PushQueueTest, CloseAfterPendingWritesWhatIsQueuedFirst) {
  WatchQueue queue(10);
  ASSERT_EQ(WrittenKey(queue.Push(Message("a"))), "a");
  queue.Push(Message("b"));
  EXPECT_FALSE(queue.CloseAfterPending(absl::OkStatus()).finish.has_value());
  EXPECT_EQ(queue.Push(Message("late")).write, nullptr);
  EXPECT_EQ(WrittenKey(queue.WriteDone(true)), "b");
  WatchQueue::Action last = queue.WriteDone(true);
  EXPECT_EQ(last.write, nullptr);
  ASSERT_TRUE(last.finish.has_value());
  EXPECT_TRUE(last.finish->ok());
  EXPECT_FALSE(queue.WriteDone(true).finish.has_value());

  // Idle: it finishes at once.
  WatchQueue idle(10);
  EXPECT_TRUE(idle.CloseAfterPending(absl::OkStatus()).finish.has_value());
}

}  // namespace
}  // namespace polku::rpc
