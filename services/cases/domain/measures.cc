#include "services/cases/domain/measures.h"

#include <algorithm>
#include <cmath>

#include "lib/base/status_macros.h"
#include "services/cases/domain/business_calendar.h"
#include "services/cases/domain/proto_convert.h"
#include "services/cases/domain/sla.h"

namespace polku::cases {
namespace {

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Business time from the case's opening to `until`, without `pauses`
// (sorted, apart).
absl::Duration WorkingTime(const BusinessCalendar& calendar, const v1::Case& c,
                           absl::Time until,
                           const std::vector<SlaPause>& pauses) {
  const absl::Time opened = TimeOf(c.create_time());
  absl::Duration total = calendar.BusinessTimeBetween(opened, until);
  for (const SlaPause& pause : pauses) {
    total -= calendar.BusinessTimeBetween(std::max(pause.start, opened),
                                          std::min(pause.end, until));
  }
  return std::max(total, absl::ZeroDuration());
}

}  // namespace

double Quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

absl::StatusOr<v1::CaseMeasures> ComputeCaseMeasures(
    const std::vector<v1::Case>& cases) {
  v1::CaseMeasures out;
  std::vector<double> first_contact;
  std::vector<double> close;
  for (const v1::Case& c : cases) {
    const v1::CaseSla& policy = c.sla_policy();
    const v1::CaseSlaStatus& sla = c.sla();
    if (policy.first_contact_seconds() <= 0 && policy.resolution_seconds() <= 0) {
      continue;  // no SLA
    }
    if (!HasBusinessHours(policy)) {
      // No calendar to measure in (rules now always get one, from the tenant
      // if not their own): the due time the case shows is all there is.
      if (policy.first_contact_seconds() > 0 && !c.no_contact()) {
        out.set_eligible(out.eligible() + 1);
        if (sla.has_first_contact_time() && sla.has_first_contact_due() &&
            TimeOf(sla.first_contact_time()) <= TimeOf(sla.first_contact_due())) {
          out.set_contacted_within_sla(out.contacted_within_sla() + 1);
        }
      }
      continue;  // no business hours to measure in
    }
    POLKU_ASSIGN_OR_RETURN(BusinessHours hours,
                           HoursFromProto(policy.business_hours()));
    POLKU_ASSIGN_OR_RETURN(BusinessCalendar calendar,
                           BusinessCalendar::Create(hours));
    // The due times follow from the case's history, not from the due times
    // it shows: those are the current ones, and a first contact once made
    // stays made (a contacted case that later asked for no contact counts).
    const SlaHistory history = HistoryFromProto(c);
    POLKU_ASSIGN_OR_RETURN(
        SlaTimes times, ComputeCaseSla(calendar, PolicyFromProto(policy),
                                       TimeOf(c.create_time()), history));
    if (policy.first_contact_seconds() > 0 &&
        (!c.no_contact() || sla.has_first_contact_time())) {
      out.set_eligible(out.eligible() + 1);
      if (sla.has_first_contact_time() &&
          TimeOf(sla.first_contact_time()) <= times.first_contact_due) {
        out.set_contacted_within_sla(out.contacted_within_sla() + 1);
      }
    }
    if (sla.has_first_contact_time()) {
      first_contact.push_back(absl::ToDoubleSeconds(
          WorkingTime(calendar, c, TimeOf(sla.first_contact_time()),
                      FirstContactPauses(history))));
    }
    if (sla.has_resolution_time()) {
      close.push_back(absl::ToDoubleSeconds(
          WorkingTime(calendar, c, TimeOf(sla.resolution_time()),
                      ResolutionPauses(history))));
    }
  }
  if (out.eligible() > 0) {
    out.set_close_the_loop_rate(static_cast<double>(out.contacted_within_sla()) /
                                static_cast<double>(out.eligible()));
  }
  out.set_first_contact_median_seconds(Quantile(first_contact, 0.5));
  out.set_first_contact_p90_seconds(Quantile(first_contact, 0.9));
  out.set_close_median_seconds(Quantile(close, 0.5));
  out.set_close_p90_seconds(Quantile(close, 0.9));
  return out;
}

}  // namespace polku::cases
