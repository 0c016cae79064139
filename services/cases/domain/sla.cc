#include "services/cases/domain/sla.h"

#include <algorithm>

#include "absl/status/status.h"
#include "lib/base/status_macros.h"

namespace polku::cases {

absl::StatusOr<absl::Time> DueAfter(const BusinessCalendar& calendar,
                                    absl::Time opened_at,
                                    absl::Duration budget,
                                    std::vector<SlaPause> pauses) {
  std::sort(pauses.begin(), pauses.end(),
            [](const SlaPause& a, const SlaPause& b) {
              return a.start < b.start;
            });
  absl::Time cursor = opened_at;
  absl::Duration remaining = budget;
  for (const SlaPause& pause : pauses) {
    if (pause.end <= cursor) continue;
    absl::Time pause_start = std::max(pause.start, cursor);
    POLKU_ASSIGN_OR_RETURN(absl::Time due,
                           calendar.AddBusinessTime(cursor, remaining));
    if (due <= pause_start) return due;
    remaining -= calendar.BusinessTimeBetween(cursor, pause_start);
    if (pause.end == absl::InfiniteFuture()) return absl::InfiniteFuture();
    cursor = pause.end;
  }
  return calendar.AddBusinessTime(cursor, remaining);
}

namespace {

absl::Status CheckPolicy(const SlaPolicy& policy) {
  if (policy.reminder_share < 0 || policy.reminder_share >= 1) {
    return absl::InvalidArgumentError(
        "sla.reminder_share: must be at least 0 and below 1");
  }
  if (policy.first_contact < absl::ZeroDuration() ||
      policy.resolution < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sla: durations must not be negative");
  }
  return absl::OkStatus();
}

// One clock's due and reminder times; nothing for a zero budget.
absl::Status FillClock(const BusinessCalendar& calendar,
                       const SlaPolicy& policy, absl::Time opened_at,
                       absl::Duration budget,
                       const std::vector<SlaPause>& pauses,
                       absl::Time& reminder, absl::Time& due) {
  if (budget == absl::ZeroDuration()) return absl::OkStatus();
  POLKU_ASSIGN_OR_RETURN(due, DueAfter(calendar, opened_at, budget, pauses));
  if (policy.reminder_share > 0) {
    // Whole seconds: the reminder is a notice, not a deadline.
    absl::Duration share =
        absl::Seconds(absl::ToInt64Seconds(budget * policy.reminder_share));
    POLKU_ASSIGN_OR_RETURN(reminder,
                           DueAfter(calendar, opened_at, share, pauses));
  }
  return absl::OkStatus();
}

// `stretches` sorted and merged (DueAfter wants them apart), and cut at
// `met`: a stretch starting then or later is dropped.
std::vector<SlaPause> CutAndMerge(std::vector<SlaPause> stretches,
                                  absl::Time met) {
  std::sort(stretches.begin(), stretches.end(),
            [](const SlaPause& a, const SlaPause& b) {
              return a.start < b.start;
            });
  std::vector<SlaPause> out;
  for (SlaPause p : stretches) {
    if (p.start >= met) break;
    p.end = std::min(p.end, met);
    if (p.end <= p.start) continue;
    if (!out.empty() && p.start <= out.back().end) {
      out.back().end = std::max(out.back().end, p.end);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<SlaTimes> ComputeSla(const BusinessCalendar& calendar,
                                    const SlaPolicy& policy,
                                    absl::Time opened_at,
                                    const std::vector<SlaPause>& pauses) {
  POLKU_RETURN_IF_ERROR(CheckPolicy(policy));
  SlaTimes times;
  POLKU_RETURN_IF_ERROR(FillClock(calendar, policy, opened_at,
                                  policy.first_contact, pauses,
                                  times.first_contact_reminder,
                                  times.first_contact_due));
  POLKU_RETURN_IF_ERROR(FillClock(calendar, policy, opened_at,
                                  policy.resolution, pauses,
                                  times.resolution_reminder,
                                  times.resolution_due));
  return times;
}

std::vector<SlaPause> FirstContactPauses(const SlaHistory& history) {
  std::vector<SlaPause> all = history.waiting;
  all.insert(all.end(), history.no_contact.begin(), history.no_contact.end());
  return CutAndMerge(std::move(all),
                     std::min(history.first_contact, history.resolved));
}

std::vector<SlaPause> ResolutionPauses(const SlaHistory& history) {
  return CutAndMerge(history.waiting, history.resolved);
}

absl::StatusOr<SlaTimes> ComputeCaseSla(const BusinessCalendar& calendar,
                                        const SlaPolicy& policy,
                                        absl::Time opened_at,
                                        const SlaHistory& history) {
  POLKU_RETURN_IF_ERROR(CheckPolicy(policy));
  SlaTimes times;
  POLKU_RETURN_IF_ERROR(FillClock(calendar, policy, opened_at,
                                  policy.first_contact,
                                  FirstContactPauses(history),
                                  times.first_contact_reminder,
                                  times.first_contact_due));
  POLKU_RETURN_IF_ERROR(FillClock(calendar, policy, opened_at,
                                  policy.resolution, ResolutionPauses(history),
                                  times.resolution_reminder,
                                  times.resolution_due));
  return times;
}

uint32_t PendingSlaAlerts(const SlaTimes& times, absl::Time now,
                          bool contacted, bool resolved,
                          uint32_t already_raised) {
  uint32_t raise = 0;
  if (!contacted && !resolved) {
    if (times.first_contact_reminder <= now) raise |= kFirstContactReminder;
    if (times.first_contact_due <= now) raise |= kFirstContactBreach;
  }
  if (!resolved) {
    if (times.resolution_reminder <= now) raise |= kResolutionReminder;
    if (times.resolution_due <= now) raise |= kResolutionBreach;
  }
  return raise & ~already_raised;
}

}  // namespace polku::cases
