#include "services/insight/analytics/scope.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace polku::insight {

absl::StatusOr<ScorecardQuery> ToScorecardQuery(
    const v1::Scope& scope, absl::string_view tenant,
    const TouchpointSuccessors& successors, absl::string_view field) {
  if (scope.journey().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".journey: required (the journey key)"));
  }
  if (scope.journey_version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field,
                     ".journey_version: must be 0 (every version) or a "
                     "version number"));
  }
  ScorecardQuery query;
  query.tenant = std::string(tenant);
  query.journey = scope.journey();
  query.journey_version = scope.journey_version();
  query.stage = scope.stage();
  query.channel = scope.channel();
  if (scope.has_range()) {
    const v1::TimeRange& range = scope.range();
    if (range.has_start()) {
      POLKU_ASSIGN_OR_RETURN(
          query.start_day,
          DayOfBound(range.start(), absl::StrCat(field, ".range.start")));
    }
    if (range.has_end()) {
      POLKU_ASSIGN_OR_RETURN(
          query.end_day,
          EndDayOfBound(range.end(), absl::StrCat(field, ".range.end")));
    }
    if (range.has_start() && range.has_end() &&
        std::make_pair(range.start().seconds(), range.start().nanos()) >=
            std::make_pair(range.end().seconds(), range.end().nanos())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".range: start must be before end"));
    }
  }
  std::vector<std::string> wanted(scope.touchpoints().begin(),
                                  scope.touchpoints().end());
  if (!scope.touchpoint().empty()) wanted.push_back(scope.touchpoint());
  for (const std::string& touchpoint : wanted) {
    query.touchpoints.push_back(touchpoint);
    if (scope.journey_version() != 0) continue;
    for (const auto& [former, current] : successors) {
      if (current == touchpoint) query.touchpoints.push_back(former);
    }
  }
  POLKU_ASSIGN_OR_RETURN(
      query.attributes,
      AttributeFilter(scope.attributes(), absl::StrCat(field, ".attributes")));
  return query;
}

}  // namespace polku::insight
