// Between the API's messages (protos/polku/v1/cases.proto) and the domain's
// types. Errors name the request field, e.g. `rule.sla.business_hours.weekly[2]`.
#ifndef POLKU_SERVICES_CASES_DOMAIN_PROTO_CONVERT_H_
#define POLKU_SERVICES_CASES_DOMAIN_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "polku/v1/cases.pb.h"
#include "services/cases/domain/business_calendar.h"
#include "services/cases/domain/case_state.h"
#include "services/cases/domain/rule_match.h"
#include "services/cases/domain/sla.h"

namespace polku::cases {

RuleConditions ConditionsFromProto(const v1::CaseRule& rule);

// Weekdays 1 (Monday) … 7, dates YYYY-MM-DD; validated by
// BusinessCalendar::Create as well.
absl::StatusOr<BusinessHours> HoursFromProto(const v1::BusinessHours& hours);

SlaPolicy PolicyFromProto(const v1::CaseSla& sla);

// A case's clock history from its CaseSlaStatus. A case marked no-contact
// with no open no-contact stretch recorded (marked from its opening) has
// been no-contact since it was opened.
SlaHistory HistoryFromProto(const v1::Case& c);

inline CaseState StateFromProto(v1::CaseState state) {
  return static_cast<CaseState>(state);
}
inline v1::CaseState StateToProto(CaseState state) {
  return static_cast<v1::CaseState>(state);
}

// Checks a rule as created or updated (INVALID_ARGUMENT naming the field):
// its conditions, period, priority and SLA with its business hours if it
// has any (without, it uses the tenant's calendar: the store checks that
// the tenant has one).
absl::Status ValidateRule(const v1::CaseRule& rule);

// Whether the SLA names business hours of its own (an empty message counts
// as none).
bool HasBusinessHours(const v1::CaseSla& sla);

// INVALID_ARGUMENT naming the field below `business_hours` (e.g.
// `business_hours.weekly[1]: …`): an unknown time zone, a weekday out of
// 1…7, open ≥ close, a bad holiday date, overlaps, an empty week.
absl::Status ValidateBusinessHours(const v1::BusinessHours& hours);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_PROTO_CONVERT_H_
