#include "services/cases/domain/case_state.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polku::cases {
namespace {

constexpr CaseState kAllStates[] = {
    CaseState::kNew,      CaseState::kAssigned,
    CaseState::kContacted, CaseState::kWaitingForCustomer,
    CaseState::kResolved, CaseState::kClosed,
    CaseState::kReopened};

// The transition table before consent is considered.
bool Allowed(CaseState from, CaseState to) {
  using S = CaseState;
  switch (from) {
    case S::kNew:
      return to == S::kAssigned;
    case S::kAssigned:
    case S::kReopened:
      return to == S::kContacted || to == S::kWaitingForCustomer ||
             to == S::kResolved || (from == S::kReopened && to == S::kAssigned);
    case S::kContacted:
      return to == S::kWaitingForCustomer || to == S::kResolved;
    case S::kWaitingForCustomer:
      return to == S::kContacted || to == S::kResolved;
    case S::kResolved:
      return to == S::kClosed || to == S::kReopened;
    case S::kClosed:
      return to == S::kReopened;
    case S::kUnspecified:
      return false;
  }
  return false;
}

bool NeedsContact(CaseState state) {
  return state == CaseState::kContacted ||
         state == CaseState::kWaitingForCustomer;
}

}  // namespace

absl::string_view CaseStateName(CaseState state) {
  switch (state) {
    case CaseState::kUnspecified:
      return "CASE_STATE_UNSPECIFIED";
    case CaseState::kNew:
      return "NEW";
    case CaseState::kAssigned:
      return "ASSIGNED";
    case CaseState::kContacted:
      return "CONTACTED";
    case CaseState::kWaitingForCustomer:
      return "WAITING_FOR_CUSTOMER";
    case CaseState::kResolved:
      return "RESOLVED";
    case CaseState::kClosed:
      return "CLOSED";
    case CaseState::kReopened:
      return "REOPENED";
  }
  return "CASE_STATE_UNKNOWN";
}

std::vector<CaseState> NextStates(CaseState from) {
  std::vector<CaseState> next;
  for (CaseState to : kAllStates) {
    if (Allowed(from, to)) next.push_back(to);
  }
  return next;
}

absl::Status CheckTransition(CaseState from, CaseState to, bool no_contact) {
  if (to == CaseState::kUnspecified) {
    return absl::InvalidArgumentError("state: a case cannot go to "
                                      "CASE_STATE_UNSPECIFIED");
  }
  if (!Allowed(from, to)) {
    std::vector<std::string> names;
    for (CaseState next : NextStates(from)) {
      names.emplace_back(CaseStateName(next));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "a case cannot go from ", CaseStateName(from), " to ",
        CaseStateName(to), "; from ", CaseStateName(from), " it may go to ",
        names.empty() ? "nothing" : absl::StrJoin(names, ", ")));
  }
  if (no_contact && NeedsContact(to)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a case cannot go from ", CaseStateName(from), " to ",
        CaseStateName(to),
        ": the customer asked not to be contacted (no_contact)"));
  }
  return absl::OkStatus();
}

bool PausesSla(CaseState state) {
  return state == CaseState::kWaitingForCustomer;
}

bool IsOpen(CaseState state) {
  return state != CaseState::kResolved && state != CaseState::kClosed &&
         state != CaseState::kUnspecified;
}

}  // namespace polku::cases
