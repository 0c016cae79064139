// Recovery: did following up a customer's feedback win them back? The
// customer's later answer (NPS 0–10 or CSAT 1–5) after their case was
// resolved, against the later answer of comparable customers — eligible,
// i.e. a rule opened a case for them, but never contacted — as a difference
// of means with a Welch interval (docs/cases.md):
//
//   std::vector<RecoverySubject> subjects;   // one per case: SubjectOf
//   std::vector<LaterAnswer> answers;        // the customers' events
//   RecoveryEstimate r = EstimateRecovery(subjects, answers, absl::Hours(24 * 90));
//   // r.difference, [r.low, r.high], r.n_resolved, r.n_not_contacted
//
// Observational, not an experiment: who gets contacted is not random (e.g.
// customers who refused contact are among the not contacted), so the
// difference is a description, not a causal effect.
#ifndef POLKU_SERVICES_CASES_DOMAIN_RECOVERY_H_
#define POLKU_SERVICES_CASES_DOMAIN_RECOVERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "polku/v1/cases.pb.h"

namespace polku::cases {

// A customer's case, as recovery sees it.
struct RecoverySubject {
  std::string customer_hash;
  // Contacted and resolved (else: never contacted).
  bool resolved = false;
  // Later answers count from here: the resolution, or the opening of a case
  // nobody contacted.
  absl::Time anchor;
  // The case's journey: only answers in it count for this case.
  std::string journey;
};

// The subject a case makes: a rule's case that was contacted and resolved,
// or one never contacted; none for a case opened by hand (no rule found the
// customer eligible), one contacted but not resolved, or one without a
// customer.
std::optional<RecoverySubject> SubjectOf(const v1::Case& c,
                                         const std::string& customer_hash);

// One answer of a customer, from their events.
struct LaterAnswer {
  std::string customer_hash;
  absl::Time occurred_at;
  double score = 0;
  std::string journey;
};

struct RecoveryEstimate {
  int64_t n_resolved = 0;
  int64_t n_not_contacted = 0;
  double mean_resolved = 0;
  double mean_not_contacted = 0;
  // mean_resolved − mean_not_contacted; 0 unless both groups have answers.
  double difference = 0;
  // The 95 % Welch interval of the difference; only when both groups have
  // at least two answers and any variation.
  bool has_interval = false;
  double low = 0;
  double high = 0;
};

// Each customer counts once per journey (a journey's answers say nothing of
// a case in another): in the resolved group if any of their cases in that
// journey is (from the earliest resolution), else in the not-contacted
// group (from the earliest opening). Their score is their first answer in
// that journey strictly after the anchor and at most `window` after it;
// customers without one are left out. Interval: difference ± t(0.975, ν)·√(s₁²/n₁ + s₀²/n₀), ν by
// Welch–Satterthwaite, sample variances with n − 1.
RecoveryEstimate EstimateRecovery(const std::vector<RecoverySubject>& subjects,
                                  const std::vector<LaterAnswer>& answers,
                                  absl::Duration window);

// The q-quantile of Student's t with `degrees_of_freedom` > 0 (bisection on
// its distribution function).
double StudentTQuantile(double q, double degrees_of_freedom);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_RECOVERY_H_
