// Close-the-loop measures over a set of cases (GetCaseMeasures):
//
// * close_the_loop_rate = contacted within the first-contact SLA / eligible,
//   where eligible cases are those with a first-contact SLA that are not
//   no-contact (or were contacted before they became so), and "within"
//   means first_contact_time ≤ the first-contact due time as it stood,
//   computed here from the case's history (domain/sla.h: only pauses
//   before the first contact move it), not read from the case, whose due
//   time is the current one;
// * time to first contact and to close (RESOLVED), in business seconds of
//   the case's own calendar, the pauses of that clock before it was met not
//   counted; median and 90th percentile
//   (linear interpolation between order statistics, as numpy's default).
//   Only cases with business hours (rule cases with an SLA) have these times.
//
// Recovery (later scores of resolved vs not-contacted customers) is not
// computed yet: it needs the customers' later events (docs/cases.md).
#ifndef POLKU_SERVICES_CASES_DOMAIN_MEASURES_H_
#define POLKU_SERVICES_CASES_DOMAIN_MEASURES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "polku/v1/cases.pb.h"

namespace polku::cases {

absl::StatusOr<v1::CaseMeasures> ComputeCaseMeasures(
    const std::vector<v1::Case>& cases);

// The q-quantile (0 ≤ q ≤ 1) of `values` by linear interpolation; 0 for
// none. Sorts `values`.
double Quantile(std::vector<double>& values, double q);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_MEASURES_H_
