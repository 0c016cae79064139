#include "gateway/http_gateway.h"

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gateway/fake_backends.h"
#include "gateway/http_routes.h"
#include "lib/rpc/testing/test_pki.h"

namespace polku::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return message;
}

class HttpGatewayTest : public ::testing::Test {
 protected:
  HttpGatewayTest() : http_(*keys_.store, fakes_.Connect(), keys_.admin) {
    absl::Status started = http_.Start("127.0.0.1:0");
    EXPECT_TRUE(started.ok()) << started;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_.port());
    client_->set_read_timeout(10, 0);
  }

  httplib::Headers Auth(const std::string& key) {
    return {{"Authorization", "Bearer " + key}};
  }

  httplib::Result Get(const std::string& path, const std::string& key) {
    return client_->Get(path.c_str(), Auth(key));
  }

  httplib::Result PostEvents(const std::string& body, const std::string& key) {
    return client_->Post("/v1/events", Auth(key), body, "application/json");
  }

  testing::FakeBackends fakes_;
  testing::TestKeys keys_;
  const std::string& admin_key_ = keys_.admin_key;
  const std::string& shop_key_ = keys_.shop_key;
  HttpGateway http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpGatewayTest, SubmitsEventsAsCanonicalJson) {
  httplib::Headers headers = Auth(shop_key_);
  headers.emplace("X-Polku-Tenant", "someone-else");  // Ignored.
  headers.emplace("X-Request-Id", "http-7");
  httplib::Result res =
      client_->Post("/v1/events", headers,
                    R"({"events": [{"eventId": "e1", "touchpoint": "checkout",
                      "occurredAt": "2024-05-01T12:00:00Z", "csat": 5},
                     {"event_id": "e2", "nps": 0}]})",
                    "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "http-7");
  // lowerCamelCase names; defaults printed.
  EXPECT_THAT(res->body, HasSubstr(R"("eventId":"e1")"));
  EXPECT_THAT(res->body, HasSubstr(R"("outcome":"ACCEPTED")"));
  EXPECT_THAT(res->body, HasSubstr(R"("field":"")"));
  auto response = FromJson<v1::SubmitEventsResponse>(res->body);
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(1).event_id(), "e2");
  EXPECT_EQ(response.results(1).reason(), "tenant=demo channel=shop");

  testing::SeenCall seen = fakes_.log.last();
  EXPECT_EQ(seen.method, "SubmitEvents");
  EXPECT_THAT(seen.tenants, ElementsAre("demo"));
  EXPECT_THAT(seen.channels, ElementsAre("shop"));
  EXPECT_THAT(seen.request_ids, ElementsAre("http-7"));
  auto remaining = seen.deadline - std::chrono::system_clock::now();
  // grpc-timeout is rounded up on the wire.
  EXPECT_LE(remaining, std::chrono::seconds(kDefaultDeadlineSeconds + 1));
}

TEST_F(HttpGatewayTest, MissingOrUnknownKeyIs401) {
  httplib::Result missing =
      client_->Post("/v1/events", R"({"events": []})", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_THAT(missing->body,
              HasSubstr(R"({"error":{"code":"UNAUTHENTICATED","status":401,)"
                        R"("message":"missing API key)"));

  httplib::Result unknown =
      PostEvents(R"({"events": []})", keys::GenerateKey());
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  EXPECT_EQ(
      unknown->body,
      R"({"error":{"code":"UNAUTHENTICATED","status":401,"message":"unknown or revoked API key"}})");

  httplib::Result malformed = PostEvents(R"({"events": []})", "not-a-key");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 401);
  EXPECT_THAT(malformed->body, HasSubstr("malformed API key"));
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(HttpGatewayTest, MissingScopeIs403) {
  httplib::Result res = Get("/v1/scorecard?journey=j", shop_key_);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_THAT(res->body,
              HasSubstr(R"("code":"PERMISSION_DENIED","status":403)"));
  EXPECT_THAT(res->body, HasSubstr("insights:read"));

  httplib::Result admin_writes = PostEvents(R"({"events": []})", admin_key_);
  ASSERT_TRUE(admin_writes);
  EXPECT_EQ(admin_writes->status, 403);
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(HttpGatewayTest, BadJsonIs400NamingTheProblem) {
  httplib::Result not_json = PostEvents("{\"events\": [", shop_key_);
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_THAT(not_json->body,
              HasSubstr(R"("code":"INVALID_ARGUMENT","status":400)"));
  EXPECT_THAT(not_json->body, HasSubstr("polku.v1.SubmitEventsRequest"));

  httplib::Result unknown_field =
      PostEvents(R"({"evnts": [{"eventId": "e1"}]})", shop_key_);
  ASSERT_TRUE(unknown_field);
  EXPECT_EQ(unknown_field->status, 400);
  EXPECT_THAT(unknown_field->body, HasSubstr("evnts"));

  httplib::Result wrong_type =
      PostEvents(R"({"events": [{"csat": "five"}]})", shop_key_);
  ASSERT_TRUE(wrong_type);
  EXPECT_EQ(wrong_type->status, 400);
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

// Over HTTP as over gRPC: the key is the actor, or the person an act_as key
// names in X-Polku-Actor; any other key naming someone is 403.
TEST_F(HttpGatewayTest, TheActorHeaderNeedsTheActAsScope) {
  httplib::Headers named = Auth(keys_.desk_key);
  named.emplace("X-Polku-Actor", "alice@example.com");
  httplib::Result res = client_->Get("/v1/scorecard?journey=j", named);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(fakes_.log.last().actors,
              ElementsAre("alice@example.com via helpdesk (key " +
                          keys::KeyId(keys_.desk_key) + ")"));
  res = Get("/v1/scorecard?journey=j", keys_.insights_key);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(fakes_.log.last().actors,
              ElementsAre("dashboard (key " + keys::KeyId(keys_.insights_key) +
                          ")"));
  httplib::Headers claimed = Auth(keys_.insights_key);
  claimed.emplace("X-Polku-Actor", "alice@example.com");
  const size_t before = fakes_.log.calls().size();
  res = client_->Get("/v1/scorecard?journey=j", claimed);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_THAT(res->body, HasSubstr("act_as"));
  EXPECT_EQ(fakes_.log.calls().size(), before);
}

// A key issued under a name outside printable ASCII (or with a newline)
// still reaches the backend, its name made printable: plain gRPC metadata
// may carry nothing else, and grpc++ aborts on an invalid value.
TEST_F(HttpGatewayTest, AKeyNamedOutsidePrintableAsciiStillCallsTheBackend) {
  absl::StatusOr<keys::IssuedKey> created = keys_.store->CreateKey(
      "demo", "Asiakaspalvelu H\xC3\xA4meenlinna \xE2\x80\x93 y\xC3\xB6\n",
      {keys::kScopeInsightsRead, keys::kScopeActAs}, "");
  ASSERT_TRUE(created.ok()) << created.status();
  httplib::Headers named = Auth(created->key);
  named.emplace("X-Polku-Actor", "alice@example.com");
  httplib::Result res = client_->Get("/v1/scorecard?journey=j", named);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(fakes_.log.last().actors,
              ElementsAre("alice@example.com via Asiakaspalvelu H?meenlinna ? "
                          "y? (key " +
                          keys::KeyId(created->key) + ")"));
}

TEST_F(HttpGatewayTest, ScorecardQueryMapsOntoTheRequest) {
  httplib::Result res =
      Get("/v1/scorecard?journey=home-renovation&group_by=stage"
          "&start=2024-05-01T00:00:00Z&end=2024-06-01T00:00:00%2B03:00"
          "&journey_version=2",
          admin_key_);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto scorecard = FromJson<v1::Scorecard>(res->body);
  EXPECT_EQ(scorecard.journey(), "home-renovation tenant=demo channel=");
  EXPECT_EQ(scorecard.group_by(), v1::GROUP_BY_STAGE);
  EXPECT_EQ(scorecard.range().start().seconds(), 1714521600);  // 05-01 UTC
  EXPECT_EQ(scorecard.range().end().seconds(), 1717189200);    // 05-31 21:00
  EXPECT_EQ(scorecard.as_of_sequence(), 2);
  EXPECT_THAT(res->body, HasSubstr(R"("groupBy":"GROUP_BY_STAGE")"));
  EXPECT_THAT(res->body, HasSubstr(R"("asOfSequence":"2")"));

  for (const auto& [query, group_by] :
       std::vector<std::pair<std::string, v1::GroupBy>>{
           {"group_by=touchpoint", v1::GROUP_BY_TOUCHPOINT},
           {"group_by=channel", v1::GROUP_BY_CHANNEL},
           {"group_by=GROUP_BY_CHANNEL", v1::GROUP_BY_CHANNEL},
           {"journey=j", v1::GROUP_BY_UNSPECIFIED}}) {
    httplib::Result grouped = Get("/v1/scorecard?" + query, admin_key_);
    ASSERT_TRUE(grouped);
    ASSERT_EQ(grouped->status, 200) << query << ": " << grouped->body;
    EXPECT_EQ(FromJson<v1::Scorecard>(grouped->body).group_by(), group_by)
        << query;
  }
  // An unset range stays unset.
  EXPECT_FALSE(
      FromJson<v1::Scorecard>(Get("/v1/scorecard?journey=j", admin_key_)->body)
          .has_range());
}

TEST_F(HttpGatewayTest, BadScorecardParametersAre400NamingTheParameter) {
  for (const auto& [query, name] :
       std::vector<std::pair<std::string, std::string>>{
           {"group_by=region", "group_by"},
           {"start=yesterday", "start"},
           {"start=2024-05-01T00:00:00Z&end=2024-13-01T00:00:00Z", "end"},
           {"journey_version=two", "journey_version"}}) {
    httplib::Result res = Get("/v1/scorecard?journey=j&" + query, admin_key_);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << query;
    EXPECT_THAT(res->body, HasSubstr("\"message\":\"" + name + ":")) << query;
  }
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(HttpGatewayTest, JourneyRoutes) {
  httplib::Result get =
      Get("/v1/journeys/switching-operator?version=3", admin_key_);
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200) << get->body;
  auto journey = FromJson<v1::Journey>(get->body);
  EXPECT_EQ(journey.key(), "switching-operator");
  EXPECT_EQ(journey.version(), 3);
  EXPECT_EQ(journey.name(), "tenant=demo channel=");

  httplib::Result missing = Get("/v1/journeys/missing", admin_key_);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr(R"("code":"NOT_FOUND","status":404)"));
  EXPECT_THAT(missing->body, HasSubstr(R"(journey \"missing\" not found)"));

  httplib::Result list =
      Get("/v1/journeys?page_size=5&page_token=abc", admin_key_);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200) << list->body;
  EXPECT_EQ(FromJson<v1::ListJourneysResponse>(list->body).next_page_token(),
            "5/abc");

  httplib::Result created =
      client_->Post("/v1/journeys", Auth(admin_key_),
                    R"({"key": "k", "name": "K", "stages": [{"key": "need"}]})",
                    "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 200) << created->body;
  auto draft = FromJson<v1::Journey>(created->body);
  EXPECT_EQ(draft.key(), "k");
  EXPECT_EQ(draft.stages_size(), 1);
  EXPECT_EQ(draft.state(), v1::DRAFT);

  httplib::Result published = client_->Post(
      "/v1/journeys/k:publish", Auth(admin_key_), "", "application/json");
  ASSERT_TRUE(published);
  ASSERT_EQ(published->status, 200) << published->body;
  EXPECT_EQ(FromJson<v1::Journey>(published->body).state(), v1::PUBLISHED);

  httplib::Result channels = Get("/v1/channels", admin_key_);
  ASSERT_TRUE(channels);
  ASSERT_EQ(channels->status, 200);
  EXPECT_EQ(
      FromJson<v1::ListChannelsResponse>(channels->body).channels(0).key(),
      "shop");

  // A channel key may not read journeys.
  httplib::Result denied = Get("/v1/journeys", shop_key_);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
}

TEST_F(HttpGatewayTest, BackendErrorsMapToHttpStatuses) {
  for (const auto& [code, http] : std::vector<std::pair<int, int>>{
           {5, 404}, {8, 429}, {9, 409}, {13, 500}, {14, 503}, {4, 504}}) {
    httplib::Result res = PostEvents(
        R"({"events": [{"eventId": "error:)" + std::to_string(code) + R"("}]})",
        shop_key_);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, http) << code;
    EXPECT_THAT(res->body, HasSubstr(R"("message":"fake failure")"));
    // The backend's retry-after-ms: 1500 becomes Retry-After, rounded up;
    // an UNAVAILABLE without one gets the gateway's (1 s).
    EXPECT_EQ(res->get_header_value("Retry-After"),
              http == 429 ? "2" : http == 503 ? "1" : "")
        << code;
  }
}

// `curl -d` labels a JSON body form-encoded; the body is still the request.
TEST_F(HttpGatewayTest, AJsonBodyLabelledFormEncodedIsStillJson) {
  httplib::Result res = client_->Post(
      "/v1/events", Auth(shop_key_), R"({"events": [{"eventId": "form-1"}]})",
      "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->body, HasSubstr(R"("eventId":"form-1")"));
}

TEST_F(HttpGatewayTest, HealthzAndUnknownPaths) {
  httplib::Result health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok"})");

  httplib::Result unknown = Get("/v1/nothing", admin_key_);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr(R"("code":"NOT_FOUND","status":404)"));
}

TEST_F(HttpGatewayTest, TheDashboardIsServedWithoutAKey) {
  httplib::Result page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(page->body, HasSubstr("/dashboard/main.js"));
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"),
              HasSubstr("script-src 'self'"));
  httplib::Result module = client_->Get("/dashboard/main.js");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->status, 200);
  EXPECT_EQ(module->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  httplib::Result missing = client_->Get("/dashboard/missing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr(R"("code":"NOT_FOUND")"));
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

// What the dashboard does with its insights:read key: list the journeys,
// read a map; nothing that changes anything.
TEST_F(HttpGatewayTest, AnInsightsKeyListsJourneysAndReadsTheMap) {
  const std::string& key = keys_.insights_key;
  httplib::Result map =
      Get("/v1/journey-map?journey=home-renovation&start=2024-05-01T00:00:00Z"
          "&end=2024-05-29T00:00:00Z&journey_version=2",
          key);
  ASSERT_TRUE(map);
  ASSERT_EQ(map->status, 200) << map->body;
  auto journey_map = FromJson<v1::JourneyMap>(map->body);
  EXPECT_EQ(journey_map.journey(), "home-renovation tenant=demo channel=");
  EXPECT_EQ(journey_map.range().start().seconds(), 1714521600);
  EXPECT_EQ(journey_map.journey_version(), 2);

  // Journeys by name only (the basic view), even when it asks for more.
  httplib::Result list = Get("/v1/journeys?view=JOURNEY_VIEW_FULL", key);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200) << list->body;
  auto journeys = FromJson<v1::ListJourneysResponse>(list->body);
  ASSERT_EQ(journeys.journeys_size(), 1);
  EXPECT_EQ(journeys.journeys(0).description(), "view=JOURNEY_VIEW_BASIC");
  // A journeys:read key gets what it asks for.
  httplib::Result full = Get("/v1/journeys?view=JOURNEY_VIEW_FULL", admin_key_);
  ASSERT_TRUE(full);
  ASSERT_EQ(full->status, 200) << full->body;
  EXPECT_EQ(
      FromJson<v1::ListJourneysResponse>(full->body).journeys(0).description(),
      "view=JOURNEY_VIEW_FULL");
  for (const char* path : {"/v1/journeys/home-renovation", "/v1/channels"}) {
    httplib::Result denied = Get(path, key);
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 403) << path;
  }
  httplib::Result write = client_->Post("/v1/journeys", Auth(key),
                                        R"({"key": "k"})", "application/json");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 403);
}

// Every path and method /v1/openapi.json documents is served: without a key
// each answers 401 from authentication, never 404 from routing.
TEST_F(HttpGatewayTest, EveryDocumentedRouteIsServed) {
  httplib::Result doc = client_->Get("/v1/openapi.json");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 200);
  google::protobuf::Struct document;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(doc->body, &document).ok());
  int checked = 0;
  for (const auto& [path, item] :
       document.fields().at("paths").struct_value().fields()) {
    std::string concrete = path;
    for (size_t at; (at = concrete.find('{')) != std::string::npos;) {
      concrete.replace(at, concrete.find('}', at) - at + 1, "x");
    }
    for (const auto& [method, operation] : item.struct_value().fields()) {
      httplib::Result res =
          method == "get" ? client_->Get(concrete.c_str())
          : method == "patch"
              ? client_->Patch(concrete.c_str(), "{}", "application/json")
          : method == "put"
              ? client_->Put(concrete.c_str(), "{}", "application/json")
              : client_->Post(concrete.c_str(), "{}", "application/json");
      ASSERT_TRUE(res) << method << " " << concrete;
      EXPECT_EQ(res->status, 401)
          << method << " " << concrete << ": " << res->body;
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(HttpRoutes().size()));
}

TEST_F(HttpGatewayTest, ServerStreamIsNewlineDelimitedJson) {
  httplib::Result res = Get("/v1/events:watch?from_sequence=5", admin_key_);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<std::string> lines =
      absl::StrSplit(res->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << res->body;
  for (const std::string& line : lines) {
    FromJson<v1::WatchEventsResponse>(line);  // Each line parses alone.
  }
  EXPECT_THAT(fakes_.log.last().tenants, ElementsAre("demo"));
}

// SIGTERM's first step: an open NDJSON watch ends at once with an
// UNAVAILABLE error line, new streams and /readyz answer 503, and Stop
// returns (it waited for the stream for ever before).
TEST_F(HttpGatewayTest, EndStreamsEndsOpenStreamsSoThatStopReturns) {
  absl::Notification first_line;
  std::string body;
  int status = -1;
  std::thread watcher([&] {
    httplib::Client client("127.0.0.1", http_.port());
    client.set_read_timeout(60, 0);
    httplib::Result watch =
        client.Get("/v1/events:watch?from_sequence=-1", Auth(admin_key_),
                   [&](const char* data, size_t length) {
                     body.append(data, length);
                     if (!first_line.HasBeenNotified() &&
                         body.find('\n') != std::string::npos) {
                       first_line.Notify();
                     }
                     return true;
                   });
    if (watch) status = watch->status;
  });
  ASSERT_TRUE(first_line.WaitForNotificationWithTimeout(absl::Seconds(10)));

  const absl::Time start = absl::Now();
  http_.EndStreams();
  watcher.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(status, 200);
  std::vector<std::string> lines =
      absl::StrSplit(body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << body;
  EXPECT_THAT(lines[1], HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(lines[1], HasSubstr("shutting down"));
  EXPECT_TRUE(fakes_.feedback.watch_cancelled.WaitForNotificationWithTimeout(
      absl::Seconds(10)));

  httplib::Result late = Get("/v1/events:watch?from_sequence=-1", admin_key_);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 503) << late->body;
  httplib::Result ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("draining"));
  // Short calls are still answered until Stop.
  EXPECT_EQ(Get("/v1/channels", admin_key_)->status, 200);

  const absl::Time stop = absl::Now();
  http_.Stop();
  EXPECT_LT(absl::Now() - stop, absl::Seconds(8));
}

// /readyz and /metrics need no key, so anyone chooses how often they are
// asked: the backends are asked at most once a second regardless.
TEST_F(HttpGatewayTest, ReadyzAndMetricsAskTheBackendsAtMostOnceASecond) {
  const absl::Time start = absl::Now();
  std::vector<std::thread> callers;
  std::atomic<int> ready{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", http_.port());
      for (int i = 0; i < 25; ++i) {
        httplib::Result res = client.Get((i + t) % 2 ? "/readyz" : "/metrics");
        if (res && res->status == 200) ++ready;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_EQ(ready.load(), 100);
  // Three backends per check; one check per started second, plus the first.
  EXPECT_LE(fakes_.health_checks(), 3 * (2 + static_cast<int>(seconds)))
      << "in " << seconds << " s";
  EXPECT_GE(fakes_.health_checks(), 3);
}

// The export route writes one event per line in the export format, not the
// backend's pages.
TEST_F(HttpGatewayTest, ExportIsOneEventPerLineAsJsonOrCsv) {
  httplib::Result res = Get(
      "/v1/events:export?journey=j1&start=2024-05-01T00:00:00Z", admin_key_);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<std::string> lines =
      absl::StrSplit(res->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << res->body;
  google::protobuf::Struct row;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[2], &row).ok())
      << lines[2];
  EXPECT_EQ(row.fields().at("event_id").string_value(), "e-3");
  EXPECT_EQ(row.fields().at("journey").string_value(), "j1");
  EXPECT_EQ(row.fields().at("occurred_at").string_value(),
            "2024-05-01T00:00:00Z");
  EXPECT_EQ(row.fields().at("comment").string_value(), "tenant=demo, channel=");

  res = Get("/v1/events:export?journey=j1&format=csv", admin_key_);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/csv; charset=utf-8");
  lines = absl::StrSplit(res->body, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << res->body;
  EXPECT_TRUE(absl::StartsWith(lines[0], "sequence,event_id,journey,"));
  EXPECT_TRUE(absl::StartsWith(lines[1], "1,e-1,j1,"));
  EXPECT_THAT(lines[3], HasSubstr(",\"tenant=demo, channel=\","));

  res = Get("/v1/events:export?format=xml", admin_key_);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("format: \\\"xml\\\" is not csv or ndjson"));
  // A channel key may not export.
  res = Get("/v1/events:export", shop_key_);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
}

TEST_F(HttpGatewayTest, AnAnswerThatDoesNotParseIs500NotAnEmptyMessage) {
  httplib::Result res =
      PostEvents(R"({"events": [{"eventId": "garbled"}]})", shop_key_);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_THAT(res->body,
              HasSubstr("does not parse as polku.v1.SubmitEventsResponse"));
}

TEST_F(HttpGatewayTest, AStreamEndsWithAnErrorLineAtAMessageThatDoesNotParse) {
  httplib::Result res = Get("/v1/events:watch?from_sequence=-2", admin_key_);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::vector<std::string> lines =
      absl::StrSplit(res->body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << res->body;
  EXPECT_EQ(FromJson<v1::WatchEventsResponse>(lines[0]).events(0).sequence(),
            1);
  EXPECT_THAT(lines[1], HasSubstr("does not parse as "
                                  "polku.v1.WatchEventsResponse"));
}

TEST_F(HttpGatewayTest, AFirstStreamMessageThatDoesNotParseIs500) {
  httplib::Result res = Get("/v1/events:watch?from_sequence=-3", admin_key_);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_THAT(res->body,
              HasSubstr("does not parse as polku.v1.WatchEventsResponse"));
}

TEST_F(HttpGatewayTest, ApiKeysAreManagedOverHttpAndRevocationIsImmediate) {
  httplib::Result created = client_->Post(
      "/v1/tenants/demo/apiKeys", Auth(admin_key_),
      R"({"displayName": "dashboard", "scopes": ["journeys:read"]})",
      "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 200) << created->body;
  auto response = FromJson<v1::CreateApiKeyResponse>(created->body);
  ASSERT_TRUE(keys::IsWellFormedKey(response.key()));
  EXPECT_EQ(Get("/v1/journeys", response.key())->status, 200);
  EXPECT_EQ(Get("/v1/scorecard?journey=j", response.key())->status, 403);

  std::string key_id = response.api_key().name().substr(
      response.api_key().name().rfind('/') + 1);
  httplib::Result revoked = client_->Post(
      absl::StrCat("/v1/tenants/demo/apiKeys/", key_id, ":revoke").c_str(),
      Auth(admin_key_), "", "application/json");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 200) << revoked->body;
  EXPECT_EQ(Get("/v1/journeys", response.key())->status, 401);

  // Another tenant's keys are out of reach, and a bad scope names the field.
  EXPECT_EQ(Get("/v1/tenants/other/apiKeys", admin_key_)->status, 403);
  httplib::Result bad =
      client_->Post("/v1/tenants/demo/apiKeys", Auth(admin_key_),
                    R"({"scopes": ["root"]})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr(R"("field":"api_key.scopes")"));
}

TEST_F(HttpGatewayTest, RequestIdAndTimeoutReachTheBackend) {
  httplib::Headers headers = Auth(admin_key_);
  headers.emplace("X-Request-Timeout", "2.5");
  headers.emplace("X-Request-Id", "req-42");
  auto before = std::chrono::system_clock::now();
  httplib::Result res = client_->Get("/v1/channels", headers);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("X-Request-Id"), "req-42");
  testing::SeenCall seen = fakes_.log.last();
  EXPECT_THAT(seen.request_ids, ElementsAre("req-42"));
  EXPECT_LE(seen.deadline, before + std::chrono::milliseconds(2600));
  EXPECT_GE(seen.deadline, before + std::chrono::milliseconds(2000));

  // Without one, the gateway makes an id up and returns it.
  httplib::Result plain = Get("/v1/channels", admin_key_);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->get_header_value("X-Request-Id").size(), 16u);

  headers = Auth(admin_key_);
  headers.emplace("X-Request-Timeout", "soon");
  httplib::Result bad = client_->Get("/v1/channels", headers);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST(HttpGatewayLimitsTest, RateLimitIs429WithRetryAfterAndCounted) {
  testing::FakeBackends fakes;
  testing::TestKeys keys;
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  RateLimiter limiter({.per_second = 0.5, .burst = 2}, {}, clock);
  Metrics metrics;
  HttpGateway http(*keys.store, fakes.Connect(), keys.admin);
  http.set_rate_limiter(&limiter);
  http.set_metrics(&metrics);
  ASSERT_TRUE(http.Start("127.0.0.1:0").ok());
  httplib::Client client("127.0.0.1", http.port());
  httplib::Headers auth = {{"Authorization", "Bearer " + keys.admin_key}};
  EXPECT_EQ(client.Get("/v1/channels", auth)->status, 200);
  EXPECT_EQ(client.Get("/v1/channels", auth)->status, 200);
  httplib::Result limited = client.Get("/v1/channels", auth);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "2");
  EXPECT_THAT(limited->body, HasSubstr("RESOURCE_EXHAUSTED"));
  // Another key of the same tenant is not held back.
  EXPECT_EQ(client
                .Get("/v1/events:watch",
                     {{"Authorization", "Bearer " + keys.shop_key}})
                ->status,
            403);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(client.Get("/v1/channels", auth)->status, 200);

  httplib::Result text = client.Get("/metrics");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_THAT(text->body,
              HasSubstr("polku_gateway_rate_limited_total{limit=\"key\"} 1"));
  EXPECT_THAT(text->body,
              HasSubstr("polku_gateway_requests_total{transport=\"http\","
                        "method=\"/polku.v1.JourneyService/ListChannels\","
                        "code=\"OK\"} 3"));
  EXPECT_THAT(text->body,
              HasSubstr("polku_gateway_backend_up{backend=\"journey\"} 1"));
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  EXPECT_THAT(ready->body, HasSubstr(R"("feedback":"SERVING")"));
}

TEST(HttpGatewayTlsTest, ServesHttpsToClientsWithACertificateOnly) {
  auto pki = rpc::testing::TestPki::Make({"server", "client"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = pki->dir();

  testing::FakeBackends fakes;
  testing::TestKeys keys;
  HttpGateway https(*keys.store, fakes.Connect(), keys.admin);
  ASSERT_TRUE(https
                  .Start("127.0.0.1:0", {.cert_file = dir + "/server.pem",
                                         .key_file = dir + "/server.key",
                                         .ca_file = dir + "/ca.pem"})
                  .ok());
  httplib::SSLClient client("127.0.0.1", https.port(), dir + "/client.pem",
                            dir + "/client.key");
  client.set_ca_cert_path((dir + "/ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result res = client.Get(
      "/v1/channels", {{"Authorization", "Bearer " + keys.admin_key}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);

  httplib::SSLClient anonymous("127.0.0.1", https.port());
  anonymous.set_ca_cert_path((dir + "/ca.pem").c_str());
  EXPECT_FALSE(anonymous.Get("/healthz"));
  httplib::Client plaintext("127.0.0.1", https.port());
  EXPECT_FALSE(plaintext.Get("/healthz"));

  HttpGateway broken(*keys.store, fakes.Connect(), keys.admin);
  EXPECT_EQ(broken
                .Start("127.0.0.1:0", {.cert_file = dir + "/missing.pem",
                                       .key_file = dir + "/server.key"})
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpStatusTest, MapsEveryCodeAsDocumented) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAborted), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(ErrorBody(absl::InvalidArgumentError("events[0].csat: \"x\"")),
            R"({"error":{"code":"INVALID_ARGUMENT","status":400,)"
            R"("message":"events[0].csat: \"x\"","field":"events[0].csat"}})");
  EXPECT_EQ(ErrorBody(absl::NotFoundError("no route for GET /x")),
            R"({"error":{"code":"NOT_FOUND","status":404,)"
            R"("message":"no route for GET /x"}})");
}

TEST(HttpGatewayStartTest, BadOrBusyAddressFailsClearly) {
  testing::TestKeys keys;
  Backends backends = Backends::Connect({.feedback = "127.0.0.1:1",
                                         .journey = "127.0.0.1:1",
                                         .insight = "127.0.0.1:1"});
  HttpGateway first(*keys.store, backends, keys.admin);
  EXPECT_EQ(first.Start("localhost").code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());

  // Nothing listens at the backends' addresses: not ready.
  httplib::Client client("127.0.0.1", first.port());
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr(R"("journey":"NOT_SERVING")"));

  HttpGateway second(*keys.store, backends, keys.admin);
  absl::Status busy = second.Start("127.0.0.1:" + std::to_string(first.port()));
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(busy.message(), HasSubstr("cannot listen"));
}

}  // namespace
}  // namespace polku::gateway
