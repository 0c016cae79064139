#include "gateway/authz.h"

#include "absl/strings/str_cat.h"

namespace polku::gateway {
namespace {

struct MethodRoute {
  absl::string_view method;
  Route route;
};

constexpr MethodRoute kRoutes[] = {
    {"/polku.v1.FeedbackService/SubmitEvents",
     {Backend::kFeedback, keys::kScopeEventsWrite}},
    {"/polku.v1.FeedbackService/WatchEvents",
     {Backend::kFeedback, keys::kScopeAdmin, /*unbounded=*/true}},
    {"/polku.v1.JourneyService/CreateJourney",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/PublishJourney",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/GetJourney",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/ListJourneys",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/ListChannels",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/WatchJourneys",
     {Backend::kJourney, keys::kScopeJourneysRead, /*unbounded=*/true}},
    {"/polku.v1.InsightService/GetScorecard",
     {Backend::kInsight, keys::kScopeInsightsRead}},
};

}  // namespace

absl::StatusOr<Route> FindRoute(absl::string_view method) {
  for (const MethodRoute& entry : kRoutes) {
    if (entry.method == method) return entry.route;
  }
  return absl::NotFoundError(absl::StrCat("no route for ", method));
}

absl::StatusOr<Route> Authorize(const keys::Principal& principal,
                                absl::string_view method) {
  absl::StatusOr<Route> route = FindRoute(method);
  if (!route.ok()) {
    return absl::UnimplementedError(
        absl::StrCat("method ", method, " is not served by the gateway"));
  }
  if (!principal.HasScope(route->scope)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the API key lacks the scope \"", route->scope,
                     "\" needed for ", method));
  }
  return route;
}

std::vector<std::string> RoutedMethods() {
  std::vector<std::string> methods;
  for (const MethodRoute& entry : kRoutes) {
    methods.emplace_back(entry.method);
  }
  return methods;
}

}  // namespace polku::gateway
