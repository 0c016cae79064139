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
    {"/polku.v1.FeedbackService/StreamEvents",
     {Backend::kFeedback, keys::kScopeEventsWrite, /*unbounded=*/true}},
    {"/polku.v1.FeedbackService/EraseCustomer",
     {Backend::kFeedback, keys::kScopeAdmin}},
    {"/polku.v1.FeedbackService/GetErasureReceipt",
     {Backend::kFeedback, keys::kScopeAdmin}},
    {"/polku.v1.FeedbackService/WatchEvents",
     {Backend::kFeedback, keys::kScopeAdmin, /*unbounded=*/true}},
    // Finite, but an export of millions of events outlasts any default
    // deadline: the caller's own deadline bounds it. `admin` reads the whole
    // change feed anyway.
    {"/polku.v1.FeedbackService/ExportEvents",
     {Backend::kFeedback, keys::kScopeEventsRead, /*unbounded=*/true,
      keys::kScopeAdmin}},
    {"/polku.v1.JourneyService/CreateJourney",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/PublishJourney",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/GetJourney",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    // Also for insights:read, so that a dashboard key can offer the
    // published journeys to choose from, by name only: their definitions
    // and drafts are journeys:read's.
    {"/polku.v1.JourneyService/ListJourneys",
     {Backend::kJourney, keys::kScopeJourneysRead, /*unbounded=*/false,
      keys::kScopeInsightsRead, Narrowing::kJourneyBasicView}},
    {"/polku.v1.JourneyService/ListChannels",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/WatchJourneys",
     {Backend::kJourney, keys::kScopeJourneysRead, /*unbounded=*/true}},
    {"/polku.v1.JourneyService/CreateDraft",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/UpdateDraft",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/ArchiveJourney",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/CreateChannel",
     {Backend::kJourney, keys::kScopeJourneysWrite}},
    {"/polku.v1.JourneyService/GetJourneyVersion",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/ListJourneyVersions",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.JourneyService/DiffJourneyVersions",
     {Backend::kJourney, keys::kScopeJourneysRead}},
    {"/polku.v1.InsightService/GetScorecard",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.InsightService/GetTrend",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.InsightService/ListAlerts",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.InsightService/WatchAlerts",
     {Backend::kInsight, keys::kScopeInsightsRead, /*unbounded=*/true}},
    {"/polku.v1.InsightService/GetConsistency",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.InsightService/WatchScorecard",
     {Backend::kInsight, keys::kScopeInsightsRead, /*unbounded=*/true}},
    {"/polku.v1.InsightService/GetJourneyMap",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.FunnelsService/GetFunnel",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.FunnelsService/GetPaths",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.DriversService/GetKeyDrivers",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.ThemesService/GetThemes",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    {"/polku.v1.ThemesService/ListThemeExamples",
     {Backend::kInsight, keys::kScopeInsightsRead}},
    // CaseService (docs/cases.md): reading cases, rules, audit trails and
    // measures, and dry runs (which open nothing), are cases:read; what
    // changes cases or rules is cases:write.
    {"/polku.v1.CaseService/CreateRule",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/UpdateRule",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/ListRules",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/DryRunRule",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/CreateCase",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/GetCase", {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/ListCases",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/UpdateCase",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/AddComment",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/SetContactConsent",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/ListAuditEntries",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/GetCaseMeasures",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/SetBusinessCalendar",
     {Backend::kCases, keys::kScopeCasesWrite}},
    {"/polku.v1.CaseService/GetBusinessCalendar",
     {Backend::kCases, keys::kScopeCasesRead}},
    {"/polku.v1.CaseService/WatchCases",
     {Backend::kCases, keys::kScopeCasesRead, /*unbounded=*/true}},
    {"/polku.v1.AdminService/CreateTenant",
     {Backend::kGateway, keys::kScopeSuperAdmin}},
    {"/polku.v1.AdminService/ListTenants",
     {Backend::kGateway, keys::kScopeSuperAdmin}},
    {"/polku.v1.AdminService/CreateApiKey",
     {Backend::kGateway, keys::kScopeAdmin}},
    {"/polku.v1.AdminService/ListApiKeys",
     {Backend::kGateway, keys::kScopeAdmin}},
    {"/polku.v1.AdminService/RevokeApiKey",
     {Backend::kGateway, keys::kScopeAdmin}},
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
  // The super-admin administers every tenant's keys (AdminService checks
  // the tenant for everyone else) but reaches no backend: it has no tenant.
  bool super_admin_may =
      route->backend == Backend::kGateway && principal.IsSuperAdmin();
  bool scope_may =
      principal.HasScope(route->scope) ||
      (route->also_scope != nullptr && principal.HasScope(route->also_scope));
  if (!super_admin_may && !scope_may) {
    return absl::PermissionDeniedError(
        absl::StrCat("the API key lacks the scope \"", route->scope, "\"",
                     route->also_scope != nullptr
                         ? absl::StrCat(" (or \"", route->also_scope, "\")")
                         : "",
                     " needed for ", method));
  }
  return route;
}

Narrowing NarrowingFor(const keys::Principal& principal, const Route& route) {
  if (principal.HasScope(route.scope)) return Narrowing::kNone;
  return route.also_scope_narrowing;
}

std::vector<std::string> RoutedMethods() {
  std::vector<std::string> methods;
  for (const MethodRoute& entry : kRoutes) {
    methods.emplace_back(entry.method);
  }
  return methods;
}

}  // namespace polku::gateway
