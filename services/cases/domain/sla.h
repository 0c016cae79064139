// SLA clocks of a case: when first contact and resolution fall due, when
// their reminders go off, and which reminders and breaches are to be raised
// now. Pure: the caller passes the calendar, the times and what was raised
// before; the store records the raised flags in the same transaction as it
// raises them, so each is raised exactly once (store/).
//
//   SlaPolicy policy{.first_contact = absl::Hours(8),
//                    .resolution = absl::Hours(48), .reminder_share = 0.75};
//   POLKU_ASSIGN_OR_RETURN(SlaTimes times,
//       ComputeSla(calendar, policy, case_opened_at, pauses));
//   uint32_t raise = PendingSlaAlerts(times, now, contacted, resolved,
//                                     already_raised);
//
// Business time only counts outside pauses ("waiting for the customer"): a
// pause of 3 business hours moves every later due time by 3 business hours.
#ifndef POLKU_SERVICES_CASES_DOMAIN_SLA_H_
#define POLKU_SERVICES_CASES_DOMAIN_SLA_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/cases/domain/business_calendar.h"

namespace polku::cases {

// Per rule. A zero duration means no such SLA.
struct SlaPolicy {
  // Business time from opening to first contact (state CONTACTED, or
  // RESOLVED directly).
  absl::Duration first_contact = absl::ZeroDuration();
  // Business time from opening to RESOLVED.
  absl::Duration resolution = absl::ZeroDuration();
  // The reminder goes off when this share of an SLA's time has passed,
  // 0 < share < 1; 0: no reminders.
  double reminder_share = 0;
};

// A stretch of time during which the SLA clock stood still. `end` is
// absl::InfiniteFuture() while the pause goes on.
struct SlaPause {
  absl::Time start;
  absl::Time end;
};

// absl::InfiniteFuture() for a time that is not due (no such SLA, or the
// clock is paused before it would fall due).
struct SlaTimes {
  absl::Time first_contact_reminder = absl::InfiniteFuture();
  absl::Time first_contact_due = absl::InfiniteFuture();
  absl::Time resolution_reminder = absl::InfiniteFuture();
  absl::Time resolution_due = absl::InfiniteFuture();
};

// The instant at which `budget` of business time, not counting `pauses`
// (in any order, not overlapping), has passed since `opened_at`.
absl::StatusOr<absl::Time> DueAfter(const BusinessCalendar& calendar,
                                    absl::Time opened_at,
                                    absl::Duration budget,
                                    std::vector<SlaPause> pauses);

// INVALID_ARGUMENT for a share outside [0, 1) or a negative duration.
absl::StatusOr<SlaTimes> ComputeSla(const BusinessCalendar& calendar,
                                    const SlaPolicy& policy,
                                    absl::Time opened_at,
                                    const std::vector<SlaPause>& pauses);

// What has happened to a case's clocks. A clock stops in its pauses only
// until its SLA is met: waiting for the customer after the first contact
// does not move (or hide) the first-contact due time, nor a pause after
// the resolution (a reopened case) the resolution due time.
struct SlaHistory {
  // Waiting for the customer: stops both clocks.
  std::vector<SlaPause> waiting;
  // Marked no-contact: stops the first-contact clock only (the case is
  // still worked and resolved).
  std::vector<SlaPause> no_contact;
  // When first contact and resolution were first made; InfiniteFuture()
  // if not yet. Resolving a case meets its first-contact SLA too.
  absl::Time first_contact = absl::InfiniteFuture();
  absl::Time resolved = absl::InfiniteFuture();
};

// The stretches that stop the first-contact (resolution) clock: merged,
// sorted, and cut where that SLA was met.
std::vector<SlaPause> FirstContactPauses(const SlaHistory& history);
std::vector<SlaPause> ResolutionPauses(const SlaHistory& history);

// ComputeSla for a case: each clock with its own pauses (above).
absl::StatusOr<SlaTimes> ComputeCaseSla(const BusinessCalendar& calendar,
                                        const SlaPolicy& policy,
                                        absl::Time opened_at,
                                        const SlaHistory& history);

// Bits of a case's raised-alerts flag word (stored as an integer).
enum SlaAlert : uint32_t {
  kFirstContactReminder = 1u << 0,
  kFirstContactBreach = 1u << 1,
  kResolutionReminder = 1u << 2,
  kResolutionBreach = 1u << 3,
};

// The alerts to raise at `now` that are not in `already_raised`: a
// reminder or breach whose time has come (≤ now) and whose SLA is not met
// yet (`contacted` meets first contact; `resolved` meets both).
uint32_t PendingSlaAlerts(const SlaTimes& times, absl::Time now,
                          bool contacted, bool resolved,
                          uint32_t already_raised);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_SLA_H_
