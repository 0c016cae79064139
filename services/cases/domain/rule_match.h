// Whether a stored event opens a case under a rule, and which case it
// would be: the exactly-once key (tenant, rule, customer, period bucket).
//
//   RuleConditions detractors{.journey = "switching",
//                             .max_nps = 6, .max_csat = 2};
//   if (Matches(detractors, event)) {
//     int64_t bucket = PeriodBucket(occurred_at, absl::Hours(24 * 30));
//     … open the case keyed (tenant, rule_id, customer_hash, bucket)
//   }
#ifndef POLKU_SERVICES_CASES_DOMAIN_RULE_MATCH_H_
#define POLKU_SERVICES_CASES_DOMAIN_RULE_MATCH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "polku/v1/feedback.pb.h"

namespace polku::cases {

// What an event must be like to open a case. Every condition that is set
// must hold (AND); a list matches when it holds the event's value (OR
// within it); an empty list or unset threshold matches anything.
//
// Score thresholds are the exception: the event must carry at least one of
// the thresholded scores and be at or below its threshold (NPS ≤ 6 or CSAT
// ≤ 2, whichever the event has). An event with none of them never matches a
// rule that has thresholds: an unrated touch is not a detractor.
struct RuleConditions {
  // Journey key; required (a rule belongs to one journey).
  std::string journey;
  std::vector<std::string> touchpoints;
  std::vector<std::string> stages;
  std::vector<std::string> channels;
  std::optional<int> max_nps;   // 0–10
  std::optional<int> max_csat;  // 1–5
  std::optional<int> max_ces;   // 1–7 (7 = very easy)
  // Each attribute must be present with exactly this value.
  std::map<std::string, std::string> attributes;
};

// INVALID_ARGUMENT naming the field (rule.conditions.max_nps, …) for an
// empty journey or a threshold outside its scale.
absl::Status ValidateConditions(const RuleConditions& conditions);

// Whether `event` (as stored on the change feed) opens a case under a rule
// with these conditions. Events without a customer never do: a case follows
// up a customer.
bool Matches(const RuleConditions& conditions, const v1::StoredEvent& event);

// The attribute an event uses to say the customer does not want to be
// contacted, e.g. attributes { key: "contact_consent" value: "no" }.
inline constexpr char kContactConsentAttribute[] = "contact_consent";

// Whether the event says the customer does not want to be contacted
// (`contact_consent` is "no", "false" or "0").
bool RefusesContact(const v1::StoredEvent& event);

// The period bucket of the exactly-once key: whole periods since the Unix
// epoch. One customer opens at most one case per rule per bucket, whatever
// the replays. `period` must be positive.
int64_t PeriodBucket(absl::Time occurred_at, absl::Duration period);

// What a rule would have done over past events (DryRunRule): events that
// match, and the cases they would have opened under the exactly-once key.
//
//   DryRunCounter dry_run(conditions, absl::Hours(24 * 30));
//   for (const v1::StoredEvent& e : events) dry_run.Add(e);
//   dry_run.cases();
class DryRunCounter {
 public:
  DryRunCounter(RuleConditions conditions, absl::Duration period)
      : conditions_(std::move(conditions)), period_(period) {}
  void Add(const v1::StoredEvent& event);
  int64_t scanned() const { return scanned_; }
  int64_t matched() const { return matched_; }
  int64_t cases() const { return static_cast<int64_t>(keys_.size()); }

 private:
  RuleConditions conditions_;
  absl::Duration period_;
  int64_t scanned_ = 0;
  int64_t matched_ = 0;
  std::set<std::tuple<std::string, std::string, int64_t>> keys_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_RULE_MATCH_H_
