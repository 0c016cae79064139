#include "gateway/authz.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "polku/v1/admin.pb.h"
#include "polku/v1/cases.pb.h"
#include "polku/v1/drivers.pb.h"
#include "polku/v1/themes.pb.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/funnels.pb.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"

namespace polku::gateway {
namespace {

using ::testing::HasSubstr;

keys::Principal Admin() {
  return {.tenant = "demo",
          .scopes = {keys::kScopeAdmin, keys::kScopeJourneysRead,
                     keys::kScopeJourneysWrite, keys::kScopeInsightsRead}};
}

keys::Principal ShopKey() {
  return {
      .tenant = "demo", .scopes = {keys::kScopeEventsWrite}, .channel = "shop"};
}

keys::Principal Reader() {
  return {.tenant = "demo", .scopes = {keys::kScopeJourneysRead}};
}

// A dashboard's key.
keys::Principal Insights() {
  return {.tenant = "demo", .scopes = {keys::kScopeInsightsRead}};
}

struct Case {
  std::string method;
  Backend backend;
  std::string scope;
  bool unbounded;
  // Which of the four keys may call it.
  bool admin;
  bool shop;
  bool reader;
  bool insights;
};

// The contract, one row per RPC.
const Case kCases[] = {
    {"/polku.v1.FeedbackService/SubmitEvents", Backend::kFeedback,
     "events:write", false, false, true, false, false},
    {"/polku.v1.FeedbackService/StreamEvents", Backend::kFeedback,
     "events:write", true, false, true, false, false},
    {"/polku.v1.FeedbackService/EraseCustomer", Backend::kFeedback, "admin",
     false, true, false, false, false},
    {"/polku.v1.FeedbackService/GetErasureReceipt", Backend::kFeedback,
     "admin", false, true, false, false, false},
    {"/polku.v1.FeedbackService/WatchEvents", Backend::kFeedback, "admin", true,
     true, false, false, false},
    {"/polku.v1.FeedbackService/ExportEvents", Backend::kFeedback,
     "events:read", true, true, false, false, false},
    {"/polku.v1.JourneyService/CreateJourney", Backend::kJourney,
     "journeys:write", false, true, false, false, false},
    {"/polku.v1.JourneyService/PublishJourney", Backend::kJourney,
     "journeys:write", false, true, false, false, false},
    {"/polku.v1.JourneyService/GetJourney", Backend::kJourney, "journeys:read",
     false, true, false, true, false},
    {"/polku.v1.JourneyService/ListJourneys", Backend::kJourney,
     "journeys:read", false, true, false, true, true},
    {"/polku.v1.JourneyService/ListChannels", Backend::kJourney,
     "journeys:read", false, true, false, true, false},
    {"/polku.v1.JourneyService/WatchJourneys", Backend::kJourney,
     "journeys:read", true, true, false, true, false},
    {"/polku.v1.InsightService/GetScorecard", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.InsightService/GetTrend", Backend::kInsight, "insights:read",
     false, true, false, false, true},
    {"/polku.v1.InsightService/ListAlerts", Backend::kInsight, "insights:read",
     false, true, false, false, true},
    {"/polku.v1.InsightService/WatchAlerts", Backend::kInsight, "insights:read",
     true, true, false, false, true},
    {"/polku.v1.InsightService/GetConsistency", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.InsightService/WatchScorecard", Backend::kInsight,
     "insights:read", true, true, false, false, true},
    {"/polku.v1.InsightService/GetJourneyMap", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.FunnelsService/GetFunnel", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.FunnelsService/GetPaths", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.DriversService/GetKeyDrivers", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    {"/polku.v1.ThemesService/GetThemes", Backend::kInsight, "insights:read",
     false, true, false, false, true},
    {"/polku.v1.ThemesService/ListThemeExamples", Backend::kInsight,
     "insights:read", false, true, false, false, true},
    // None of the four keys holds a cases scope (see CasesReadAndWrite).
    {"/polku.v1.CaseService/CreateRule", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/UpdateRule", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/ListRules", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/DryRunRule", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/CreateCase", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/GetCase", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/ListCases", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/UpdateCase", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/AddComment", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/SetContactConsent", Backend::kCases, "cases:write",
     false, false, false, false, false},
    {"/polku.v1.CaseService/ListAuditEntries", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/GetCaseMeasures", Backend::kCases, "cases:read",
     false, false, false, false, false},
    {"/polku.v1.CaseService/WatchCases", Backend::kCases, "cases:read",
     true, false, false, false, false},
    {"/polku.v1.CaseService/SetBusinessCalendar", Backend::kCases,
     "cases:write", false, false, false, false, false},
    {"/polku.v1.CaseService/GetBusinessCalendar", Backend::kCases,
     "cases:read", false, false, false, false, false},
    {"/polku.v1.AdminService/CreateTenant", Backend::kGateway, "superadmin",
     false, false, false, false, false},
    {"/polku.v1.AdminService/ListTenants", Backend::kGateway, "superadmin",
     false, false, false, false, false},
    {"/polku.v1.AdminService/CreateApiKey", Backend::kGateway, "admin", false,
     true, false, false, false},
    {"/polku.v1.AdminService/ListApiKeys", Backend::kGateway, "admin", false,
     true, false, false, false},
    {"/polku.v1.AdminService/RevokeApiKey", Backend::kGateway, "admin", false,
     true, false, false, false},
};

TEST(AuthzTest, EachMethodRoutesToItsBackendAndNeedsItsScope) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.method);
    absl::StatusOr<Route> route = FindRoute(c.method);
    ASSERT_TRUE(route.ok());
    EXPECT_EQ(route->backend, c.backend);
    EXPECT_EQ(route->scope, c.scope);
    EXPECT_EQ(route->unbounded, c.unbounded);

    for (const auto& [principal, allowed] :
         {std::pair{Admin(), c.admin}, std::pair{ShopKey(), c.shop},
          std::pair{Reader(), c.reader}, std::pair{Insights(), c.insights}}) {
      absl::StatusOr<Route> authorized = Authorize(principal, c.method);
      if (allowed) {
        EXPECT_TRUE(authorized.ok()) << authorized.status();
      } else {
        EXPECT_EQ(authorized.status().code(),
                  absl::StatusCode::kPermissionDenied);
        EXPECT_THAT(authorized.status().message(), HasSubstr(c.scope));
      }
    }
  }
}

TEST(AuthzTest, SuperAdminReachesAdminServiceButNoBackend) {
  keys::Principal super_admin{.scopes = {keys::kScopeSuperAdmin}};
  for (const std::string& method : RoutedMethods()) {
    absl::StatusOr<Route> route = FindRoute(method);
    ASSERT_TRUE(route.ok());
    EXPECT_EQ(Authorize(super_admin, method).ok(),
              route->backend == Backend::kGateway)
        << method;
  }
}

// Every RPC of every public service has a row, and every row is an RPC: a
// new RPC without a scope here fails this test (and would be unreachable).
TEST(AuthzTest, TheTableCoversEveryPublicRpc) {
  std::vector<std::string> rpcs;
  for (const auto* file : {v1::SubmitEventsRequest::descriptor()->file(),
                           v1::GetJourneyRequest::descriptor()->file(),
                           v1::GetScorecardRequest::descriptor()->file(),
                           v1::CreateTenantRequest::descriptor()->file(),
                           v1::GetKeyDriversRequest::descriptor()->file(),
                           v1::GetFunnelRequest::descriptor()->file(),
                           v1::GetThemesRequest::descriptor()->file(),
                           v1::GetCaseRequest::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        rpcs.push_back(absl::StrCat("/", service->full_name(), "/",
                                    service->method(m)->name()));
      }
    }
  }
  EXPECT_THAT(RoutedMethods(), testing::UnorderedElementsAreArray(rpcs));
  for (const Case& c : kCases) {
    EXPECT_THAT(RoutedMethods(), testing::Contains(c.method));
  }
}

// An analyst's key exports events and does nothing else.
TEST(AuthzTest, EventsReadAllowsTheExportOnly) {
  keys::Principal analyst{.tenant = "demo", .scopes = {keys::kScopeEventsRead}};
  for (const std::string& method : RoutedMethods()) {
    SCOPED_TRACE(method);
    EXPECT_EQ(Authorize(analyst, method).ok(),
              method == "/polku.v1.FeedbackService/ExportEvents");
  }
}

// cases:read reads every CaseService RPC that changes nothing (DryRunRule
// opens nothing); cases:write is needed for the rest; neither reaches any
// other service, and both together reach all of CaseService.
TEST(AuthzTest, CasesReadAndWrite) {
  keys::Principal reader{.tenant = "demo", .scopes = {keys::kScopeCasesRead}};
  keys::Principal writer{.tenant = "demo", .scopes = {keys::kScopeCasesWrite}};
  keys::Principal both{
      .tenant = "demo",
      .scopes = {keys::kScopeCasesRead, keys::kScopeCasesWrite}};
  const std::set<std::string> reads = {
      "/polku.v1.CaseService/ListRules",
      "/polku.v1.CaseService/DryRunRule",
      "/polku.v1.CaseService/GetCase",
      "/polku.v1.CaseService/ListCases",
      "/polku.v1.CaseService/ListAuditEntries",
      "/polku.v1.CaseService/GetCaseMeasures",
      "/polku.v1.CaseService/WatchCases",
      "/polku.v1.CaseService/GetBusinessCalendar"};
  int cases_rpcs = 0;
  for (const std::string& method : RoutedMethods()) {
    SCOPED_TRACE(method);
    const bool is_cases = absl::StartsWith(method, "/polku.v1.CaseService/");
    cases_rpcs += is_cases;
    EXPECT_EQ(Authorize(reader, method).ok(), reads.count(method) > 0);
    EXPECT_EQ(Authorize(writer, method).ok(),
              is_cases && reads.count(method) == 0);
    EXPECT_EQ(Authorize(both, method).ok(), is_cases);
    if (is_cases) {
      EXPECT_EQ(FindRoute(method)->backend, Backend::kCases);
    }
  }
  EXPECT_EQ(cases_rpcs, 15);
}

TEST(AuthzTest, UnknownMethodsAreUnimplemented) {
  for (const char* method :
       {"/polku.v1.FeedbackService/NoSuchMethod", "/grpc.other/Thing", "",
        "polku.v1.FeedbackService/SubmitEvents"}) {
    EXPECT_EQ(Authorize(Admin(), method).status().code(),
              absl::StatusCode::kUnimplemented)
        << method;
  }
}

}  // namespace
}  // namespace polku::gateway
