#include "services/cases/domain/rule_match.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polku::cases {
namespace {

bool ListMatches(const std::vector<std::string>& allowed,
                 const std::string& value) {
  return allowed.empty() ||
         std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

absl::Status CheckRange(const std::optional<int>& value, int low, int high,
                        const char* field) {
  if (value.has_value() && (*value < low || *value > high)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule.conditions.", field, ": ", *value,
                     " is outside the scale ", low, "–", high));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConditions(const RuleConditions& conditions) {
  if (conditions.journey.empty()) {
    return absl::InvalidArgumentError(
        "rule.conditions.journey: a rule belongs to one journey");
  }
  if (absl::Status s = CheckRange(conditions.max_nps, 0, 10, "max_nps");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange(conditions.max_csat, 1, 5, "max_csat");
      !s.ok()) {
    return s;
  }
  return CheckRange(conditions.max_ces, 1, 7, "max_ces");
}

bool Matches(const RuleConditions& conditions, const v1::StoredEvent& event) {
  const v1::TouchpointEvent& e = event.event();
  if (event.customer_hash().empty()) return false;
  if (event.journey() != conditions.journey) return false;
  if (!ListMatches(conditions.touchpoints, e.touchpoint()) ||
      !ListMatches(conditions.stages, event.stage()) ||
      !ListMatches(conditions.channels, event.channel())) {
    return false;
  }
  for (const auto& [key, value] : conditions.attributes) {
    auto it = e.attributes().find(key);
    if (it == e.attributes().end() || it->second != value) return false;
  }
  bool has_threshold = conditions.max_nps || conditions.max_csat ||
                       conditions.max_ces;
  if (!has_threshold) return true;
  return (conditions.max_nps && e.has_nps() && e.nps() <= *conditions.max_nps) ||
         (conditions.max_csat && e.has_csat() &&
          e.csat() <= *conditions.max_csat) ||
         (conditions.max_ces && e.has_ces() && e.ces() <= *conditions.max_ces);
}

bool RefusesContact(const v1::StoredEvent& event) {
  auto it = event.event().attributes().find(kContactConsentAttribute);
  if (it == event.event().attributes().end()) return false;
  std::string value = absl::AsciiStrToLower(it->second);
  return value == "no" || value == "false" || value == "0";
}

int64_t PeriodBucket(absl::Time occurred_at, absl::Duration period) {
  absl::Duration rem;
  int64_t q = absl::IDivDuration(occurred_at - absl::UnixEpoch(), period, &rem);
  return rem < absl::ZeroDuration() ? q - 1 : q;  // floor, not truncation
}

void DryRunCounter::Add(const v1::StoredEvent& event) {
  ++scanned_;
  if (!Matches(conditions_, event)) return;
  ++matched_;
  const auto& at = event.event().occurred_at();
  absl::Time occurred =
      absl::FromUnixSeconds(at.seconds()) + absl::Nanoseconds(at.nanos());
  keys_.emplace(event.tenant(), event.customer_hash(),
                PeriodBucket(occurred, period_));
}

}  // namespace polku::cases
