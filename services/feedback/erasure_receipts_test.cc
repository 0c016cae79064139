#include "services/feedback/erasure_receipts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "lib/base/clock.h"

namespace polku::feedback {
namespace {

using ::testing::HasSubstr;

constexpr char kFeed[] = "feed-a";
constexpr char kInsight[] = "polku-insight";
constexpr char kCases[] = "polku-cases";

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

class ErasureReceiptsTest : public ::testing::Test {
 protected:
  ErasureReceiptsTest()
      : clock_(kStart),
        receipts_({kInsight, kCases}, [] { return std::string(kFeed); },
                  clock_) {}

  // A wait whose answers are collected in `answers`.
  void Wait(int64_t sequence, absl::Duration within,
            std::vector<v1::ErasureReceipt>& answers) {
    receipts_.Wait(sequence, clock_.Now() + within,
                   [&answers](v1::ErasureReceipt r) { answers.push_back(r); });
  }

  static const v1::ReaderReceipt& Part(const v1::ErasureReceipt& receipt,
                                       const std::string& reader) {
    for (const v1::ReaderReceipt& part : receipt.readers()) {
      if (part.reader() == reader) return part;
    }
    ADD_FAILURE() << "no part for " << reader;
    return v1::ReaderReceipt::default_instance();
  }

  FakeClock clock_;
  ErasureReceipts receipts_;
};

TEST_F(ErasureReceiptsTest, NothingReportedIsNotApplied) {
  v1::ErasureReceipt receipt = receipts_.Receipt(10);
  EXPECT_EQ(receipt.sequence(), 10);
  EXPECT_FALSE(receipt.complete());
  ASSERT_EQ(receipt.readers_size(), 2);
  // In the configured order.
  EXPECT_EQ(receipt.readers(0).reader(), kInsight);
  EXPECT_EQ(receipt.readers(1).reader(), kCases);
  for (const v1::ReaderReceipt& part : receipt.readers()) {
    EXPECT_FALSE(part.applied());
    EXPECT_EQ(part.applied_sequence(), 0);
    EXPECT_FALSE(part.has_reported_at());
    EXPECT_FALSE(part.has_confirmed_at());
  }
}

TEST_F(ErasureReceiptsTest, AWaitIsAnsweredWhenTheLastReaderReportsIt) {
  std::vector<v1::ErasureReceipt> answers;
  Wait(10, absl::Seconds(30), answers);
  EXPECT_EQ(receipts_.waiting(), 1);

  clock_.Advance(absl::Milliseconds(300));
  ASSERT_TRUE(receipts_.Report(kInsight, kFeed, 10).ok());
  EXPECT_TRUE(answers.empty());
  // Below the erasure: cases has not applied it yet.
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 9).ok());
  EXPECT_TRUE(answers.empty());

  clock_.Advance(absl::Milliseconds(200));
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 12).ok());
  ASSERT_EQ(answers.size(), 1u);
  const v1::ErasureReceipt& receipt = answers[0];
  EXPECT_TRUE(receipt.complete());
  EXPECT_TRUE(Part(receipt, kInsight).applied());
  EXPECT_EQ(Part(receipt, kInsight).confirmed_at().seconds(),
            absl::ToUnixSeconds(kStart));
  EXPECT_EQ(Part(receipt, kInsight).confirmed_at().nanos(), 300'000'000);
  EXPECT_EQ(Part(receipt, kCases).applied_sequence(), 12);
  EXPECT_EQ(Part(receipt, kCases).confirmed_at().nanos(), 500'000'000);
  EXPECT_EQ(receipts_.waiting(), 0);

  // Answered once: later reports and deadlines find no wait.
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 20).ok());
  clock_.Advance(absl::Minutes(1));
  receipts_.ExpireDue(clock_.Now());
  EXPECT_EQ(answers.size(), 1u);
}

TEST_F(ErasureReceiptsTest, AtTheDeadlineTheReceiptNamesTheReaderBehind) {
  ASSERT_TRUE(receipts_.Report(kInsight, kFeed, 15).ok());
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 7).ok());
  std::vector<v1::ErasureReceipt> answers;
  Wait(10, absl::Seconds(5), answers);

  clock_.Advance(absl::Seconds(4));
  receipts_.ExpireDue(clock_.Now());
  EXPECT_TRUE(answers.empty());
  clock_.Advance(absl::Seconds(1));
  receipts_.ExpireDue(clock_.Now());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].complete());
  EXPECT_TRUE(Part(answers[0], kInsight).applied());
  EXPECT_FALSE(Part(answers[0], kCases).applied());
  EXPECT_EQ(Part(answers[0], kCases).applied_sequence(), 7);
  EXPECT_TRUE(Part(answers[0], kCases).has_reported_at());

  // Later the reader catches up, and a fresh look at the receipt says so.
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 11).ok());
  v1::ErasureReceipt later = receipts_.Receipt(10);
  EXPECT_TRUE(later.complete());
  EXPECT_EQ(Part(later, kCases).confirmed_at().seconds(),
            absl::ToUnixSeconds(kStart) + 8);
  EXPECT_EQ(answers.size(), 1u);
}

TEST_F(ErasureReceiptsTest, AnAlreadyCompleteReceiptIsAnsweredAtOnce) {
  ASSERT_TRUE(receipts_.Report(kInsight, kFeed, 10).ok());
  ASSERT_TRUE(receipts_.Report(kCases, kFeed, 10).ok());
  std::vector<v1::ErasureReceipt> answers;
  Wait(10, absl::Seconds(30), answers);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].complete());
  EXPECT_EQ(receipts_.waiting(), 0);
}

TEST_F(ErasureReceiptsTest, ADeadlineAlreadyPastIsAnsweredAtOnce) {
  std::vector<v1::ErasureReceipt> answers;
  Wait(10, absl::ZeroDuration(), answers);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].complete());
  EXPECT_EQ(receipts_.waiting(), 0);
}

// Replicas of one reader share its database: the highest report counts,
// and one behind does not take it back.
TEST_F(ErasureReceiptsTest, ProgressOnlyMovesForward) {
  ASSERT_TRUE(receipts_.Report(kInsight, kFeed, 30).ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(receipts_.Report(kInsight, kFeed, 12).ok());
  const v1::ErasureReceipt receipt = receipts_.Receipt(20);
  const v1::ReaderReceipt& part = Part(receipt, kInsight);
  EXPECT_TRUE(part.applied());
  EXPECT_EQ(part.applied_sequence(), 30);
  EXPECT_EQ(part.confirmed_at().seconds(), absl::ToUnixSeconds(kStart));
  // Yet it was heard from.
  EXPECT_EQ(part.reported_at().seconds(), absl::ToUnixSeconds(kStart) + 1);
}

TEST_F(ErasureReceiptsTest, ConfirmedAtIsTheFirstReportCoveringTheErasure) {
  for (int64_t sequence : {5, 9, 14, 40}) {
    ASSERT_TRUE(receipts_.Report(kCases, kFeed, sequence).ok());
    clock_.Advance(absl::Seconds(1));
  }
  // 14 was reported at +2 s: the first at or past 10 and 14.
  EXPECT_EQ(Part(receipts_.Receipt(10), kCases).confirmed_at().seconds(),
            absl::ToUnixSeconds(kStart) + 2);
  EXPECT_EQ(Part(receipts_.Receipt(14), kCases).confirmed_at().seconds(),
            absl::ToUnixSeconds(kStart) + 2);
  EXPECT_EQ(Part(receipts_.Receipt(15), kCases).confirmed_at().seconds(),
            absl::ToUnixSeconds(kStart) + 3);
  EXPECT_FALSE(Part(receipts_.Receipt(41), kCases).applied());
}

TEST_F(ErasureReceiptsTest, ReportsOfAnotherFeedOrMalformedAreRefused) {
  absl::Status other = receipts_.Report(kCases, "feed-b", 100);
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("feed_id"));
  absl::Status negative = receipts_.Report(kCases, kFeed, -1);
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("applied_sequence"));
  absl::Status nameless = receipts_.Report("", kFeed, 3);
  EXPECT_EQ(nameless.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nameless.message(), HasSubstr("reader"));
  // None of them counted.
  EXPECT_EQ(Part(receipts_.Receipt(1), kCases).applied_sequence(), 0);
}

TEST_F(ErasureReceiptsTest, AFeedNotKnownYetIsUnavailable) {
  ErasureReceipts unconnected({kCases}, [] { return std::string(); }, clock_);
  EXPECT_EQ(unconnected.Report(kCases, kFeed, 3).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ErasureReceiptsTest, DistinctReadersAreBounded) {
  for (size_t i = 0; i < ErasureReceipts::kMaxReaders; ++i) {
    ASSERT_TRUE(receipts_.Report("r" + std::to_string(i), kFeed, 1).ok());
  }
  EXPECT_EQ(receipts_.Report("one-more", kFeed, 1).code(),
            absl::StatusCode::kResourceExhausted);
  // A known one still reports.
  EXPECT_TRUE(receipts_.Report("r0", kFeed, 2).ok());
}

TEST_F(ErasureReceiptsTest, ExpireAllAnswersEveryWaitAndLaterOnesAtOnce) {
  std::vector<v1::ErasureReceipt> answers;
  Wait(10, absl::Seconds(30), answers);
  Wait(11, absl::Seconds(30), answers);
  receipts_.ExpireAll();
  EXPECT_EQ(answers.size(), 2u);
  Wait(12, absl::Seconds(30), answers);
  EXPECT_EQ(answers.size(), 3u);
  EXPECT_EQ(receipts_.waiting(), 0);
}

TEST_F(ErasureReceiptsTest, WithoutReadersThereAreNoReceipts) {
  ErasureReceipts none({}, [] { return std::string(kFeed); }, clock_);
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(receipts_.enabled());
}

// The timer thread answers a wait once its (real) deadline passes, even
// when an earlier-deadline wait arrives while it sleeps for a later one.
TEST(ErasureReceiptsTimerTest, TheTimerAnswersAtTheDeadline) {
  ErasureReceipts receipts({kCases}, [] { return std::string(kFeed); },
                           Clock::Real());
  receipts.StartTimer();
  absl::Mutex mu;
  std::vector<int64_t> answered;
  auto record = [&](v1::ErasureReceipt receipt) {
    absl::MutexLock lock(&mu);
    answered.push_back(receipt.sequence());
  };
  const absl::Time start = absl::Now();
  receipts.Wait(1, start + absl::Seconds(60), record);
  receipts.Wait(2, start + absl::Milliseconds(200), record);
  // Bounded poll: the answer comes from the timer thread.
  std::vector<int64_t> seen;
  for (int i = 0; i < 3000 && seen.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    absl::MutexLock lock(&mu);
    seen = answered;
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], 2);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(receipts.waiting(), 1);
  // The one left, before `answered` goes away.
  receipts.ExpireAll();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(answered.size(), 2u);
}

TEST_F(ErasureReceiptsTest, StoredProgressOfOtherReplicasAnswersAWait) {
  std::vector<v1::ErasureReceipt> answers;
  Wait(5, absl::Seconds(30), answers);
  receipts_.Report(kInsight, kFeed, 7).IgnoreError();
  const absl::Time raised = kStart - absl::Seconds(3);
  // As read from the store: cases reached 6 (on another replica) at
  // `raised`; insight's stored level is older than its local report.
  receipts_.Merge({{.reader = kCases,
                    .applied_sequence = 6,
                    .advanced_at = absl::ToUnixMicros(raised),
                    .reported_at = absl::ToUnixMicros(kStart)},
                   {.reader = kInsight,
                    .applied_sequence = 4,
                    .advanced_at = absl::ToUnixMicros(raised),
                    .reported_at = absl::ToUnixMicros(raised)}});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].complete());
  const v1::ReaderReceipt& cases = Part(answers[0], kCases);
  EXPECT_EQ(cases.applied_sequence(), 6);
  EXPECT_EQ(cases.confirmed_at().seconds(), absl::ToUnixSeconds(raised));
  // Never back: insight stays at its local 7.
  EXPECT_EQ(Part(answers[0], kInsight).applied_sequence(), 7);
  EXPECT_EQ(Part(answers[0], kInsight).reported_at().seconds(),
            absl::ToUnixSeconds(kStart));
}

// The timer reads the store while a wait is pending, and only then.
TEST(ErasureReceiptsTimerTest, TheTimerPollsTheStoreWhileWaitsArePending) {
  absl::Mutex mu;
  int reads = 0;
  int64_t stored = 0;
  ErasureReceipts receipts({kCases}, [] { return std::string(kFeed); },
                           Clock::Real());
  receipts.SetProgressSource(
      [&]() -> absl::StatusOr<std::vector<ReaderProgress>> {
        absl::MutexLock lock(&mu);
        ++reads;
        return std::vector<ReaderProgress>{
            {.reader = kCases, .applied_sequence = stored}};
      },
      absl::Milliseconds(20));
  receipts.StartTimer();
  absl::SleepFor(absl::Milliseconds(200));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(reads, 0);
  }
  absl::Notification done;
  receipts.Wait(3, absl::Now() + absl::Seconds(60),
                [&](v1::ErasureReceipt receipt) {
                  EXPECT_TRUE(receipt.complete());
                  done.Notify();
                });
  // Bounded: until the timer has read the store (nothing to answer yet).
  for (int i = 0; i < 3000; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    absl::MutexLock lock(&mu);
    if (reads > 0) break;
  }
  EXPECT_FALSE(done.HasBeenNotified());
  {
    absl::MutexLock lock(&mu);
    EXPECT_GT(reads, 0);
    stored = 3;
  }
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(receipts.waiting(), 0);
  // No wait pending: the reads stop.
  absl::SleepFor(absl::Milliseconds(100));
  int settled;
  {
    absl::MutexLock lock(&mu);
    settled = reads;
  }
  absl::SleepFor(absl::Milliseconds(200));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(reads, settled);
}

}  // namespace
}  // namespace polku::feedback
