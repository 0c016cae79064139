// The life of a follow-up case: its states and the transitions between them.
// Pure: no storage, no clock. The store asks CheckTransition before it writes
// a state change, and the handler turns the status into a gRPC code.
//
//   POLKU_RETURN_IF_ERROR(CheckTransition(CaseState::kNew,
//                                         CaseState::kAssigned, no_contact));
//
//   new ──> assigned ──> contacted ──> resolved ──> closed
//              │  │         ^  │          │ ^          │
//              │  │         │  v          v │          │
//              │  └──> waiting_for_customer │          │
//              │                 reopened <─┴──────────┘
//              └─────────────────> resolved (no contact needed, e.g. no-contact)
//
// "Waiting for the customer" pauses the SLA clock (sla.h): the time spent in
// it does not count against the case's due times.
#ifndef POLKU_SERVICES_CASES_DOMAIN_CASE_STATE_H_
#define POLKU_SERVICES_CASES_DOMAIN_CASE_STATE_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polku::cases {

// The numbers equal polku.v1.CaseState's (protos/polku/v1/cases.proto).
enum class CaseState {
  // Not a state: the zero value of an unset field.
  kUnspecified = 0,
  // Opened by a rule or by hand; nobody owns it yet beyond the team queue.
  kNew = 1,
  // A person of the owner team has it.
  kAssigned = 2,
  // The customer has been reached; the first-contact SLA is met.
  kContacted = 3,
  // Waiting for the customer to answer; the SLA clock is paused.
  kWaitingForCustomer = 4,
  // The matter is settled; the resolution SLA is met.
  kResolved = 5,
  // Done; nothing more happens unless it is reopened.
  kClosed = 6,
  // Resolved or closed, then opened again (the customer came back); the
  // SLAs already met stay met.
  kReopened = 7,
};

// "NEW", "WAITING_FOR_CUSTOMER", …: the proto enum's names without prefix.
absl::string_view CaseStateName(CaseState state);

// The states a case may go to from `from`, in enum order.
std::vector<CaseState> NextStates(CaseState from);

// OK when a case in `from` may go to `to`. FAILED_PRECONDITION otherwise,
// naming both states and the allowed ones, e.g. "a case cannot go from NEW
// to RESOLVED; from NEW it may go to ASSIGNED". A no-contact case (the
// customer asked not to be contacted) cannot become CONTACTED or
// WAITING_FOR_CUSTOMER. INVALID_ARGUMENT for kUnspecified as `to`.
absl::Status CheckTransition(CaseState from, CaseState to, bool no_contact);

// Whether the SLA clock stands still in `state` (waiting for the customer),
// or has stopped for good (resolved, closed).
bool PausesSla(CaseState state);
// Whether a case in `state` is still open (counts towards the resolution
// SLA): new, assigned, contacted, waiting, reopened.
bool IsOpen(CaseState state);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_CASE_STATE_H_
