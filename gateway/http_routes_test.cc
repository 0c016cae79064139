#include "gateway/http_routes.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/authz.h"
#include "gateway/caller_auth.h"
#include "gateway/openapi.h"
#include "polku/v1/admin.pb.h"
#include "polku/v1/cases.pb.h"
#include "polku/v1/feedback.pb.h"
#include "polku/v1/insight.pb.h"
#include "polku/v1/journey.pb.h"
#include "polku/v1/themes.pb.h"

namespace polku::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const HttpRoute& RouteFor(absl::string_view rpc) {
  for (const HttpRoute& route : HttpRoutes()) {
    if (route.rpc == rpc) return route;
  }
  ADD_FAILURE() << "no route for " << rpc;
  return HttpRoutes().front();
}

TEST(HttpRoutesTest, FieldIsTakenFromTheMessagePrefix) {
  EXPECT_EQ(FieldOf("events[1].csat: must be 1-5"), "events[1].csat");
  EXPECT_EQ(FieldOf("journey.key: missing"), "journey.key");
  EXPECT_EQ(FieldOf("api_key.scopes: unknown scope \"x\""), "api_key.scopes");
  EXPECT_EQ(FieldOf("no route for GET /x"), "");
  EXPECT_EQ(FieldOf("the API key lacks the scope"), "");
  EXPECT_EQ(FieldOf("missing API key: send the header"), "");
}

TEST(HttpRoutesTest, PathTemplatesBecomeRegexes) {
  EXPECT_EQ(PathVariables("/v1/tenants/{tenant}/apiKeys/{key_id}:revoke"),
            (std::vector<std::string>{"tenant", "key_id"}));
  std::regex regex(PathRegex("/v1/journeys/{key}:publish"));
  std::smatch match;
  std::string path = "/v1/journeys/onboarding:publish";
  ASSERT_TRUE(std::regex_match(path, match, regex));
  EXPECT_EQ(match[1], "onboarding");
  std::string other = "/v1/journeys/a/b:publish";
  EXPECT_FALSE(std::regex_match(other, regex));
}

// The access log never holds a customer's reference (docs/cases.md), for a
// route that serves it or a path that matches none.
TEST(HttpRoutesTest, TheLoggedPathHidesTheCustomerReference) {
  EXPECT_EQ(LoggedPath("/v1/customers/C-1234567:erase"),
            "/v1/customers/{customer}:erase");
  EXPECT_EQ(LoggedPath("/v1/customers/asiakas@example.fi:setContactConsent"),
            "/v1/customers/{customer}:setContactConsent");
  for (const char* path :
       {"/v1/customers/C-1234567", "/v1/customers/C-1234567/x:erase",
        "/v1/Customers/C-1234567:erase", "/v1/customers/C-1234567:1:erase2",
        "/v1//customers/C-1234567:x-y"}) {
    EXPECT_THAT(LoggedPath(path), Not(HasSubstr("1234567"))) << path;
    EXPECT_THAT(LoggedPath(path), HasSubstr("{customer}")) << path;
  }
  // Other paths are logged as they are.
  EXPECT_EQ(LoggedPath("/v1/journeys/onboarding:publish"),
            "/v1/journeys/onboarding:publish");
  EXPECT_EQ(LoggedPath("/v1/events"), "/v1/events");
}

// GET /v1/erasures/{sequence}/receipt: the sequence EraseCustomer
// answered, from the path into the int64 field; not a number is named.
TEST(HttpRoutesTest, AnErasureReceiptIsAskedByItsSequence) {
  const HttpRoute& route =
      RouteFor("/polku.v1.FeedbackService/GetErasureReceipt");
  EXPECT_STREQ(route.http_method, "GET");
  std::regex regex(PathRegex(route.path));
  std::smatch match;
  const std::string path = "/v1/erasures/1234/receipt";
  ASSERT_TRUE(std::regex_match(path, match, regex));
  auto request = BuildRequest(route, {match[1]}, "", {});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(
      dynamic_cast<const v1::GetErasureReceiptRequest&>(**request).sequence(),
      1234);
  auto bad = BuildRequest(route, {"twelve"}, "", {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(bad.status().message()), "sequence") << bad.status();
  // Documented in the OpenAPI document, with its response schema.
  const std::string document = OpenApiDocument();
  EXPECT_THAT(document, HasSubstr("/v1/erasures/{sequence}/receipt"));
  EXPECT_THAT(document, HasSubstr("polku.v1.ErasureReceipt"));
}

TEST(HttpRoutesTest, QueryParametersFillScalarAndNestedFields) {
  auto request =
      BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"), {}, "",
                   {{"journey", "onboarding"},
                    {"group_by", "stage"},
                    {"start", "2024-05-01T00:00:00Z"},
                    {"range.end", "2024-06-01T00:00:00+02:00"},
                    {"journeyVersion", "2"}});
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& scorecard =
      dynamic_cast<const v1::GetScorecardRequest&>(**request);
  EXPECT_EQ(scorecard.journey(), "onboarding");
  EXPECT_EQ(scorecard.group_by(), v1::GROUP_BY_STAGE);
  EXPECT_EQ(scorecard.range().start().seconds(), 1714521600);
  EXPECT_EQ(scorecard.range().end().seconds(), 1717192800);
  EXPECT_EQ(scorecard.journey_version(), 2);
}

TEST(HttpRoutesTest, TrendParametersFillTheScope) {
  auto request =
      BuildRequest(RouteFor("/polku.v1.InsightService/GetTrend"), {}, "",
                   {{"journey", "onboarding"},
                    {"touchpoint", "store_visit"},
                    {"channel", "shop"},
                    {"journey_version", "2"},
                    {"metric", "csat_top2_box"},
                    {"bucket", "week"},
                    {"start", "2024-05-01T00:00:00Z"},
                    {"attributes.store_id", "hki-01"},
                    {"scope.attributes.region", "uusimaa"}});
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& trend = dynamic_cast<const v1::GetTrendRequest&>(**request);
  EXPECT_EQ(trend.scope().journey(), "onboarding");
  EXPECT_EQ(trend.scope().touchpoint(), "store_visit");
  EXPECT_EQ(trend.scope().channel(), "shop");
  EXPECT_EQ(trend.scope().journey_version(), 2);
  EXPECT_EQ(trend.metric(), v1::CSAT_TOP2_BOX);
  EXPECT_EQ(trend.bucket(), v1::WEEK);
  EXPECT_EQ(trend.range().start().seconds(), 1714521600);
  EXPECT_THAT(
      trend.scope().attributes(),
      testing::UnorderedElementsAre(testing::Pair("store_id", "hki-01"),
                                    testing::Pair("region", "uusimaa")));
}

TEST(HttpRoutesTest, ScorecardAttributesAreOneParameterEach) {
  auto request =
      BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"), {}, "",
                   {{"journey", "onboarding"}, {"attributes.store_id", "x"}});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(
      dynamic_cast<const v1::GetScorecardRequest&>(**request).attributes(),
      testing::ElementsAre(testing::Pair("store_id", "x")));
  for (const char* name : {"attributes", "attributes."}) {
    auto bad = BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"),
                            {}, "", {{name, "x"}});
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(bad.status().message()), name) << bad.status();
  }
}

// Found by tests/fuzz/http_request_fuzzer.cc: a path or query value that is
// not UTF-8 went into a string field, and the request could not be sent.
TEST(HttpRoutesTest, PathAndQueryValuesMustBeUtf8) {
  auto path = BuildRequest(RouteFor("/polku.v1.AdminService/RevokeApiKey"),
                           {"acme",
                            "abc\x8e"
                            "d1234"},
                           "{}", {});
  EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(path.status().message(), "key_id: not valid UTF-8");
  auto query = BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"),
                            {}, "", {{"journey", "\xff"}});
  EXPECT_EQ(query.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(query.status().message(), "journey: not valid UTF-8");
  auto name = BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"),
                           {}, "", {{"attributes.\xc0", "x"}});
  EXPECT_EQ(name.status().message(),
            "a query parameter's name: not valid UTF-8");
  auto fine = BuildRequest(RouteFor("/polku.v1.InsightService/GetScorecard"),
                           {}, "", {{"attributes.myymälä", "Hämeenlinna"}});
  EXPECT_TRUE(fine.ok()) << fine.status();
}

// Found by tests/fuzz/http_request_fuzzer.cc: a year beyond what a Timestamp
// holds aborted the gateway in protobuf's TimeUtil.
TEST(HttpRoutesTest, TimesBeyondWhatATimestampHoldsAreRefused) {
  for (const char* text : {"25020-03-01T00:00:00Z", "0000-12-31T00:00:00Z",
                           "10000-01-01T00:00:00Z"}) {
    auto request =
        BuildRequest(RouteFor("/polku.v1.InsightService/GetJourneyMap"), {}, "",
                     {{"journey", "onboarding"}, {"start", text}});
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_EQ(FieldOf(request.status().message()), "start") << text;
  }
  auto last = BuildRequest(RouteFor("/polku.v1.InsightService/GetJourneyMap"),
                           {}, "", {{"start", "9999-12-31T23:59:59Z"}});
  EXPECT_TRUE(last.ok()) << last.status();
}

TEST(HttpRoutesTest, JourneyMapAndAlertParameters) {
  auto map =
      BuildRequest(RouteFor("/polku.v1.InsightService/GetJourneyMap"), {}, "",
                   {{"journey", "onboarding"},
                    {"start", "2024-05-01T00:00:00Z"},
                    {"end", "2024-05-29T00:00:00Z"}});
  ASSERT_TRUE(map.ok()) << map.status();
  const auto& map_request =
      dynamic_cast<const v1::GetJourneyMapRequest&>(**map);
  EXPECT_EQ(map_request.journey(), "onboarding");
  EXPECT_EQ(map_request.range().end().seconds() -
                map_request.range().start().seconds(),
            28 * 86400);
  auto alerts =
      BuildRequest(RouteFor("/polku.v1.InsightService/ListAlerts"), {}, "",
                   {{"journey", "onboarding"},
                    {"include_cleared", "true"},
                    {"page_size", "10"}});
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  const auto& alerts_request =
      dynamic_cast<const v1::ListAlertsRequest&>(**alerts);
  EXPECT_TRUE(alerts_request.include_cleared());
  EXPECT_EQ(alerts_request.page_size(), 10);
}

// GET /v1/cases?states=NEW&states=assigned: a repeated enum is one
// parameter per value (the dashboard's Follow-up queue filters by state);
// an unknown state names the parameter.
TEST(HttpRoutesTest, RepeatedEnumIsOneParameterPerValue) {
  const HttpRoute& route = RouteFor("/polku.v1.CaseService/ListCases");
  auto list = BuildRequest(route, {}, "",
                           {{"states", "NEW"},
                            {"states", "assigned"},
                            {"breached_only", "true"},
                            {"owner_team", "care"}});
  ASSERT_TRUE(list.ok()) << list.status();
  const auto& request = dynamic_cast<const v1::ListCasesRequest&>(**list);
  ASSERT_EQ(request.states_size(), 2);
  EXPECT_EQ(request.states(0), v1::NEW);
  EXPECT_EQ(request.states(1), v1::ASSIGNED);
  EXPECT_TRUE(request.breached_only());
  EXPECT_EQ(request.owner_team(), "care");
  auto watch = BuildRequest(RouteFor("/polku.v1.CaseService/WatchCases"), {},
                            "", {{"filter.states", "WAITING_FOR_CUSTOMER"}});
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_EQ(dynamic_cast<const v1::WatchCasesRequest&>(**watch)
                .filter()
                .states(0),
            v1::WAITING_FOR_CUSTOMER);
  auto bad = BuildRequest(route, {}, "", {{"states", "SLEEPING"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(bad.status().message()), "states") << bad.status().message();
}

TEST(HttpRoutesTest, BadQueryParametersNameThemselves) {
  const HttpRoute& route = RouteFor("/polku.v1.InsightService/GetScorecard");
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"group_by", "weekday"},
           {"journey_version", "two"},
           {"start", "yesterday"},
           {"colour", "blue"}}) {
    auto request = BuildRequest(route, {}, "", {{name, value}});
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(request.status().message()), name)
        << request.status().message();
  }
}

TEST(HttpRoutesTest, PathVariablesAndBodyFieldsAndBindings) {
  auto get = BuildRequest(RouteFor("/polku.v1.JourneyService/GetJourney"),
                          {"onboarding"}, "", {{"version", "3"}});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(dynamic_cast<const v1::GetJourneyRequest&>(**get).key(),
            "onboarding");
  auto create = BuildRequest(RouteFor("/polku.v1.JourneyService/CreateJourney"),
                             {}, R"({"key": "onboarding"})", {});
  ASSERT_TRUE(create.ok()) << create.status();
  EXPECT_EQ(
      dynamic_cast<const v1::CreateJourneyRequest&>(**create).journey().key(),
      "onboarding");
  auto revoke = BuildRequest(RouteFor("/polku.v1.AdminService/RevokeApiKey"),
                             {"demo", "1a2b3c4d"}, "", {});
  ASSERT_TRUE(revoke.ok()) << revoke.status();
  EXPECT_EQ(dynamic_cast<const v1::RevokeApiKeyRequest&>(**revoke).name(),
            "tenants/demo/apiKeys/1a2b3c4d");
  auto bad_body =
      BuildRequest(RouteFor("/polku.v1.FeedbackService/SubmitEvents"), {},
                   R"({"evnts": []})", {});
  EXPECT_EQ(bad_body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(bad_body.status().message()), "body");
}

// GET /v1/themes and /v1/themes/{theme_id}/examples: the scope from the
// query, the theme from the path.
TEST(HttpRoutesTest, ThemeRoutesFillScopeAndTheme) {
  auto themes = BuildRequest(
      RouteFor("/polku.v1.ThemesService/GetThemes"), {}, "",
      {{"scope.journey", "switching"}, {"scope.stage", "buy"},
       {"max_themes", "10"}});
  ASSERT_TRUE(themes.ok()) << themes.status();
  const auto& request = dynamic_cast<const v1::GetThemesRequest&>(**themes);
  EXPECT_EQ(request.scope().journey(), "switching");
  EXPECT_EQ(request.scope().stage(), "buy");
  EXPECT_EQ(request.max_themes(), 10);
  auto examples = BuildRequest(
      RouteFor("/polku.v1.ThemesService/ListThemeExamples"),
      {"th_c18b3b2719bc3503"}, "",
      {{"scope.journey", "switching"}, {"page_token", "o10"}});
  ASSERT_TRUE(examples.ok()) << examples.status();
  const auto& page =
      dynamic_cast<const v1::ListThemeExamplesRequest&>(**examples);
  EXPECT_EQ(page.theme_id(), "th_c18b3b2719bc3503");
  EXPECT_EQ(page.scope().journey(), "switching");
  EXPECT_EQ(page.page_token(), "o10");
}

// GetThemes has no range but its scope's: scope.range.start (or `start`,
// the only such leaf) reaches it. Where a request has a range of its own
// besides its scope's, `start` is still the request's range.start.
TEST(HttpRoutesTest, AScopesRangeIsAQueryParameter) {
  auto themes = BuildRequest(
      RouteFor("/polku.v1.ThemesService/GetThemes"), {}, "",
      {{"scope.journey", "switching"},
       {"scope.range.start", "2024-05-01T00:00:00Z"},
       {"end", "2024-06-01T00:00:00Z"}});
  ASSERT_TRUE(themes.ok()) << themes.status();
  const auto& request = dynamic_cast<const v1::GetThemesRequest&>(**themes);
  EXPECT_EQ(request.scope().range().start().seconds(), 1714521600);
  EXPECT_EQ(request.scope().range().end().seconds(), 1717200000);
  auto examples = BuildRequest(
      RouteFor("/polku.v1.ThemesService/ListThemeExamples"),
      {"th_c18b3b2719bc3503"}, "",
      {{"scope.journey", "switching"}, {"scope.range.end", "2024-06-01T00:00:00Z"}});
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(dynamic_cast<const v1::ListThemeExamplesRequest&>(**examples)
                .scope().range().end().seconds(),
            1717200000);

  auto trend = BuildRequest(RouteFor("/polku.v1.InsightService/GetTrend"), {},
                            "",
                            {{"journey", "onboarding"},
                             {"start", "2024-05-01T00:00:00Z"},
                             {"scope.range.end", "2024-06-01T00:00:00Z"}});
  ASSERT_TRUE(trend.ok()) << trend.status();
  const auto& t = dynamic_cast<const v1::GetTrendRequest&>(**trend);
  EXPECT_EQ(t.range().start().seconds(), 1714521600);
  EXPECT_FALSE(t.scope().range().has_start());
  EXPECT_EQ(t.scope().range().end().seconds(), 1717200000);
}

// Every RPC the gateway routes has exactly one HTTP route, and every route
// is a routed RPC: the HTTP API covers the whole public API.
TEST(HttpRoutesTest, EveryRoutedRpcHasOneHttpRoute) {
  std::multiset<std::string> http_rpcs;
  std::set<std::pair<std::string, std::string>> seen;
  for (const HttpRoute& route : HttpRoutes()) {
    EXPECT_NE(MethodOf(route), nullptr) << route.rpc;
    EXPECT_TRUE(FindRoute(route.rpc).ok()) << route.rpc;
    EXPECT_TRUE(absl::StartsWith(route.path, "/v1/")) << route.path;
    EXPECT_TRUE(seen.emplace(route.http_method, route.path).second)
        << route.http_method << " " << route.path << " twice";
    http_rpcs.insert(route.rpc);
  }
  for (const std::string& rpc : RoutedMethods()) {
    EXPECT_EQ(http_rpcs.count(rpc), 1u) << rpc;
  }
}

TEST(OpenApiTest, DocumentsExactlyTheRoutes) {
  google::protobuf::Struct document;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(OpenApiDocument(), &document)
          .ok());
  EXPECT_EQ(document.fields().at("openapi").string_value(), "3.0.3");
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] :
       document.fields().at("paths").struct_value().fields()) {
    for (const auto& [method, operation] : item.struct_value().fields()) {
      documented.emplace(absl::AsciiStrToUpper(method), path);
      // Every $ref points at a schema that is there.
      std::string json;
      ASSERT_TRUE(
          google::protobuf::util::MessageToJsonString(operation, &json).ok());
      std::regex ref("#/components/schemas/([A-Za-z0-9_.]+)");
      for (std::sregex_iterator it(json.begin(), json.end(), ref), end;
           it != end; ++it) {
        EXPECT_TRUE(document.fields()
                        .at("components")
                        .struct_value()
                        .fields()
                        .at("schemas")
                        .struct_value()
                        .fields()
                        .contains((*it)[1].str()))
            << (*it)[1].str();
      }
    }
  }
  std::set<std::pair<std::string, std::string>> routes;
  for (const HttpRoute& route : HttpRoutes()) {
    routes.emplace(route.http_method, route.path);
  }
  EXPECT_EQ(documented, routes);
}

// The actor header (caller_auth.h) is documented once, with its rules, and
// every operation refers to it: the gateway takes it on every call.
TEST(OpenApiTest, DocumentsTheActorHeaderOnEveryOperation) {
  google::protobuf::Struct document;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(OpenApiDocument(), &document)
          .ok());
  const auto& parameters =
      document.fields().at("components").struct_value().fields();
  ASSERT_TRUE(parameters.contains("parameters"));
  const auto& actor = parameters.at("parameters")
                          .struct_value()
                          .fields()
                          .at("Actor")
                          .struct_value()
                          .fields();
  EXPECT_TRUE(absl::EqualsIgnoreCase(actor.at("name").string_value(),
                                     kActorHeader));
  EXPECT_EQ(actor.at("in").string_value(), "header");
  EXPECT_THAT(actor.at("description").string_value(), HasSubstr("act_as"));
  EXPECT_EQ(actor.at("schema").struct_value().fields().at("maxLength")
                .number_value(),
            kMaxActorLength);
  int operations = 0;
  for (const auto& [path, item] :
       document.fields().at("paths").struct_value().fields()) {
    for (const auto& [method, operation] : item.struct_value().fields()) {
      ++operations;
      bool refers = false;
      for (const auto& parameter : operation.struct_value()
                                       .fields()
                                       .at("parameters")
                                       .list_value()
                                       .values()) {
        const auto& fields = parameter.struct_value().fields();
        refers = refers || (fields.contains("$ref") &&
                            fields.at("$ref").string_value() ==
                                "#/components/parameters/Actor");
      }
      EXPECT_TRUE(refers) << method << " " << path;
    }
  }
  EXPECT_GT(operations, 30);
  // The cases writes are among them, the business calendar's too.
  EXPECT_TRUE(document.fields()
                  .at("paths")
                  .struct_value()
                  .fields()
                  .at("/v1/businessCalendar")
                  .struct_value()
                  .fields()
                  .contains("put"));
}

}  // namespace
}  // namespace polku::gateway
