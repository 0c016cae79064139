#include "tools/import/ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polku::import {
namespace {

using Outcome = ImportLedger::Outcome;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ImportLedgerTest, SettlesUpToTheFirstUnansweredRow) {
  ImportLedger ledger;
  for (int64_t line : {2, 3, 5, 6, 7}) ledger.Begin(line);
  ledger.Finish(3, Outcome::kRejected, "row 3");
  ledger.Finish(6, Outcome::kRejected, "row 6");
  ledger.Finish(7, Outcome::kDuplicate);
  // Line 2 is unanswered: nothing is settled, though three are seen.
  ImportLedger::Settled settled = ledger.TakeSettled();
  EXPECT_EQ(settled.through, 1);
  EXPECT_THAT(settled.rejects, IsEmpty());
  EXPECT_EQ(settled.counts.rows(), 0);
  EXPECT_EQ(ledger.Seen().rows(), 3);

  ledger.Finish(2, Outcome::kAccepted);
  settled = ledger.TakeSettled();
  EXPECT_EQ(settled.through, 4);  // 5 is unanswered
  EXPECT_THAT(settled.rejects, ElementsAre("row 3"));
  EXPECT_EQ(settled.counts.accepted, 1);
  EXPECT_EQ(settled.counts.rejected, 1);

  ledger.Finish(5, Outcome::kAccepted);
  settled = ledger.TakeSettled();
  EXPECT_EQ(settled.through, 7);
  EXPECT_THAT(settled.rejects, ElementsAre("row 6"));
  EXPECT_EQ(settled.counts.accepted, 2);
  EXPECT_EQ(settled.counts.duplicates, 1);
  EXPECT_EQ(settled.counts.rejected, 2);
  EXPECT_EQ(ledger.unanswered(), 0u);
}

TEST(ImportLedgerTest, AResumedLedgerCountsOnFromWhereItWas) {
  ImportLedger ledger({.accepted = 10, .rejected = 1}, 20);
  EXPECT_EQ(ledger.TakeSettled().through, 20);
  ledger.Begin(21);
  ledger.Finish(21, Outcome::kAccepted);
  // A second answer for the same row changes nothing.
  ledger.Finish(21, Outcome::kRejected, "again");
  ImportLedger::Settled settled = ledger.TakeSettled();
  EXPECT_EQ(settled.through, 21);
  EXPECT_EQ(settled.counts.accepted, 11);
  EXPECT_EQ(settled.counts.rejected, 1);
  EXPECT_THAT(settled.rejects, IsEmpty());
}

}  // namespace
}  // namespace polku::import
