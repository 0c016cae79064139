#include "gateway/http_gateway.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "gateway/fake_backends.h"
#include "gateway/keys/file_key_store.h"

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
  HttpGatewayTest()
      : admin_key_(keys::GenerateKey()),
        shop_key_(keys::GenerateKey()),
        store_(*keys::FileKeyStore::FromEntries(
            {keys::MakeKeyEntry(
                 admin_key_, "demo",
                 {keys::kScopeAdmin, keys::kScopeJourneysRead,
                  keys::kScopeJourneysWrite, keys::kScopeInsightsRead},
                 ""),
             keys::MakeKeyEntry(shop_key_, "demo", {keys::kScopeEventsWrite},
                                "shop")})),
        http_(*store_, fakes_.Connect()) {
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
  std::string admin_key_;
  std::string shop_key_;
  std::unique_ptr<keys::FileKeyStore> store_;
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
      R"({"error":{"code":"UNAUTHENTICATED","status":401,"message":"unknown API key"}})");

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
  }
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
            R"("message":"events[0].csat: \"x\""}})");
}

TEST(HttpGatewayStartTest, BadOrBusyAddressFailsClearly) {
  auto store = keys::FileKeyStore::FromEntries({});
  ASSERT_TRUE(store.ok());
  const keys::FileKeyStore* none = store->get();
  Backends backends = Backends::Connect({.feedback = "127.0.0.1:1",
                                         .journey = "127.0.0.1:1",
                                         .insight = "127.0.0.1:1"});
  HttpGateway first(*none, backends);
  EXPECT_EQ(first.Start("localhost").code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());

  HttpGateway second(*none, backends);
  absl::Status busy = second.Start("127.0.0.1:" + std::to_string(first.port()));
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(busy.message(), HasSubstr("cannot listen"));
}

}  // namespace
}  // namespace polku::gateway
