#include "services/cases/domain/case_state.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using S = CaseState;

constexpr S kStates[] = {S::kNew,      S::kAssigned, S::kContacted,
                         S::kWaitingForCustomer, S::kResolved,
                         S::kClosed,   S::kReopened};

// The workflow of issue 21, written out once more as data.
const std::set<std::pair<S, S>>& Legal() {
  static const auto* legal = new std::set<std::pair<S, S>>{
      {S::kNew, S::kAssigned},
      {S::kAssigned, S::kContacted},
      {S::kAssigned, S::kWaitingForCustomer},
      {S::kAssigned, S::kResolved},
      {S::kContacted, S::kWaitingForCustomer},
      {S::kContacted, S::kResolved},
      {S::kWaitingForCustomer, S::kContacted},
      {S::kWaitingForCustomer, S::kResolved},
      {S::kResolved, S::kClosed},
      {S::kResolved, S::kReopened},
      {S::kClosed, S::kReopened},
      {S::kReopened, S::kAssigned},
      {S::kReopened, S::kContacted},
      {S::kReopened, S::kWaitingForCustomer},
      {S::kReopened, S::kResolved},
  };
  return *legal;
}

TEST(CaseStateTest, EveryIllegalTransitionIsRefusedNamingBothStates) {
  int refused = 0;
  for (S from : kStates) {
    for (S to : kStates) {
      absl::Status status = CheckTransition(from, to, /*no_contact=*/false);
      if (Legal().contains({from, to})) {
        EXPECT_TRUE(status.ok()) << status;
        continue;
      }
      ++refused;
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
          << CaseStateName(from) << " -> " << CaseStateName(to);
      EXPECT_THAT(status.message(),
                  HasSubstr(absl::StrCat("from ", CaseStateName(from), " to ",
                                         CaseStateName(to))));
    }
  }
  EXPECT_EQ(refused, 7 * 7 - static_cast<int>(Legal().size()));
}

TEST(CaseStateTest, TheMessageSaysWhereTheCaseMayGo) {
  EXPECT_EQ(CheckTransition(S::kNew, S::kResolved, false).message(),
            "a case cannot go from NEW to RESOLVED; from NEW it may go to "
            "ASSIGNED");
  EXPECT_THAT(CheckTransition(S::kClosed, S::kNew, false).message(),
              HasSubstr("it may go to REOPENED"));
  EXPECT_THAT(NextStates(S::kContacted),
              ElementsAre(S::kWaitingForCustomer, S::kResolved));
}

TEST(CaseStateTest, NoContactCasesAreNeverContacted) {
  EXPECT_EQ(CheckTransition(S::kAssigned, S::kContacted, true).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(CheckTransition(S::kAssigned, S::kWaitingForCustomer, true)
                  .message(),
              HasSubstr("not to be contacted"));
  // They are still worked and resolved.
  EXPECT_TRUE(CheckTransition(S::kNew, S::kAssigned, true).ok());
  EXPECT_TRUE(CheckTransition(S::kAssigned, S::kResolved, true).ok());
  EXPECT_TRUE(CheckTransition(S::kResolved, S::kClosed, true).ok());
}

TEST(CaseStateTest, UnspecifiedIsNoState) {
  EXPECT_EQ(CheckTransition(S::kNew, S::kUnspecified, false).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(NextStates(S::kUnspecified).empty());
}

TEST(CaseStateTest, OnlyWaitingPausesAndOnlyResolvedOrClosedAreDone) {
  for (S state : kStates) {
    EXPECT_EQ(PausesSla(state), state == S::kWaitingForCustomer);
    EXPECT_EQ(IsOpen(state), state != S::kResolved && state != S::kClosed);
  }
}

}  // namespace
}  // namespace polku::cases
