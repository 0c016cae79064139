#include "services/cases/domain/proto_convert.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "lib/base/status_macros.h"

namespace polku::cases {

RuleConditions ConditionsFromProto(const v1::CaseRule& rule) {
  const v1::CaseConditions& c = rule.conditions();
  RuleConditions out;
  out.journey = rule.journey();
  out.touchpoints.assign(c.touchpoints().begin(), c.touchpoints().end());
  out.stages.assign(c.stages().begin(), c.stages().end());
  out.channels.assign(c.channels().begin(), c.channels().end());
  if (c.has_max_nps()) out.max_nps = c.max_nps();
  if (c.has_max_csat()) out.max_csat = c.max_csat();
  if (c.has_max_ces()) out.max_ces = c.max_ces();
  out.attributes.insert(c.attributes().begin(), c.attributes().end());
  return out;
}

absl::StatusOr<BusinessHours> HoursFromProto(const v1::BusinessHours& hours) {
  BusinessHours out{.time_zone = hours.time_zone()};
  for (int i = 0; i < hours.weekly_size(); ++i) {
    const v1::BusinessHours::Interval& h = hours.weekly(i);
    if (h.weekday() < 1 || h.weekday() > 7) {
      return absl::InvalidArgumentError(absl::StrCat(
          "business_hours.weekly[", i, "].weekday: ", h.weekday(),
          " is not 1 (Monday) … 7 (Sunday)"));
    }
    out.weekly.push_back({static_cast<absl::Weekday>(h.weekday() - 1),
                          h.open_minute(), h.close_minute()});
  }
  for (int i = 0; i < hours.holidays_size(); ++i) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(hours.holidays(i).date(), &day)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "business_hours.holidays[", i, "].date: \"",
          hours.holidays(i).date(), "\" is not YYYY-MM-DD"));
    }
    out.holidays.push_back(day);
  }
  return out;
}

namespace {

absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::vector<SlaPause> PausesFromProto(
    const google::protobuf::RepeatedPtrField<v1::TimeRange>& ranges) {
  std::vector<SlaPause> out;
  for (const v1::TimeRange& r : ranges) {
    out.push_back({TimeFromProto(r.start()), r.has_end()
                                                 ? TimeFromProto(r.end())
                                                 : absl::InfiniteFuture()});
  }
  return out;
}

}  // namespace

SlaHistory HistoryFromProto(const v1::Case& c) {
  const v1::CaseSlaStatus& sla = c.sla();
  SlaHistory history{.waiting = PausesFromProto(sla.pauses()),
                     .no_contact = PausesFromProto(sla.no_contact_pauses())};
  if (sla.has_first_contact_time()) {
    history.first_contact = TimeFromProto(sla.first_contact_time());
  }
  if (c.no_contact() && (history.no_contact.empty() ||
                         history.no_contact.back().end !=
                             absl::InfiniteFuture())) {
    // A contacted case cannot have been no-contact before its contact.
    history.no_contact.push_back({sla.has_first_contact_time()
                                      ? history.first_contact
                                      : TimeFromProto(c.create_time()),
                                  absl::InfiniteFuture()});
  }
  if (sla.has_resolution_time()) {
    history.resolved = TimeFromProto(sla.resolution_time());
  }
  return history;
}

SlaPolicy PolicyFromProto(const v1::CaseSla& sla) {
  return {.first_contact = absl::Seconds(sla.first_contact_seconds()),
          .resolution = absl::Seconds(sla.resolution_seconds()),
          .reminder_share = sla.reminder_share()};
}

absl::Status ValidateRule(const v1::CaseRule& rule) {
  POLKU_RETURN_IF_ERROR(ValidateConditions(ConditionsFromProto(rule)));
  if (rule.period_seconds() < 0) {
    return absl::InvalidArgumentError(
        "rule.period_seconds: must not be negative (0: 30 days)");
  }
  if (!v1::CasePriority_IsValid(rule.priority())) {
    return absl::InvalidArgumentError("rule.priority: unknown priority");
  }
  const v1::CaseSla& sla = rule.sla();
  if (sla.first_contact_seconds() < 0 || sla.resolution_seconds() < 0 ||
      sla.reminder_share() < 0 || sla.reminder_share() >= 1) {
    return absl::InvalidArgumentError(
        "rule.sla: durations must not be negative and reminder_share must "
        "be in [0, 1)");
  }
  // Without hours of its own the rule uses the tenant's calendar; the
  // store checks that there is one.
  if ((sla.first_contact_seconds() > 0 || sla.resolution_seconds() > 0) &&
      HasBusinessHours(sla)) {
    absl::Status status = ValidateBusinessHours(sla.business_hours());
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule.sla.", status.message()));
    }
  }
  return absl::OkStatus();
}

bool HasBusinessHours(const v1::CaseSla& sla) {
  return sla.has_business_hours() && sla.business_hours().ByteSizeLong() > 0;
}

absl::Status ValidateBusinessHours(const v1::BusinessHours& hours) {
  POLKU_ASSIGN_OR_RETURN(BusinessHours converted, HoursFromProto(hours));
  return BusinessCalendar::Create(converted).status();
}

}  // namespace polku::cases
