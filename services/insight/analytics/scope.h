// A v1::Scope (protos/polku/v1/scope.proto) as the store's query: what every
// analytic over a Scope does first, written once so that a filter means the
// same in every answer.
//
//   POLKU_ASSIGN_OR_RETURN(ScorecardQuery query,
//                          ToScorecardQuery(request.scope(), tenant,
//                          successors));
//   POLKU_ASSIGN_OR_RETURN(int64_t as_of, ledger.ScanLedger(query, visit));
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_SCOPE_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_SCOPE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/scope.pb.h"
#include "services/insight/analytics/scorecard.h"
#include "services/insight/store/rollups.h"

namespace polku::insight {

// The tenant's events `scope` names. INVALID_ARGUMENT naming the field
// (under `field`, e.g. "scope.journey") for a missing journey, a negative
// version, an invalid or reversed range, an empty attribute name. The range
// is rounded to whole UTC days as a scorecard's is (start down, end up).
// With journey_version 0, a touchpoint filter also matches the keys the
// touchpoint had before renames (`successors`).
absl::StatusOr<ScorecardQuery> ToScorecardQuery(
    const v1::Scope& scope, absl::string_view tenant,
    const TouchpointSuccessors& successors = {},
    absl::string_view field = "scope");

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_SCOPE_H_
