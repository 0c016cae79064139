// polku-gateway as a front door, against the real binaries: every RPC with
// every kind of key over gRPC and HTTP, tenant isolation, the AdminService
// and polku-keys, and a gateway.db that holds no key.
//
// One suite serves every test here (starting it is the slow part); tests
// only add data that the others do not look at.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gateway/authz.h"
#include "gateway/http_routes.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJourney[] = "gw-journey";
// The tenant "other"'s journey.
constexpr char kOtherJourney[] = "gw-other-journey";

v1::Journey TestJourney() {
  return testing::MakeJourney(
      kJourney, "Gateway test journey", {"buy"},
      {{"store_visit", "buy", "shop"}, {"web_order", "buy", "web"}},
      "gateway");
}

v1::TouchpointEvent Event(const std::string& id, const std::string& touchpoint) {
  v1::TouchpointEvent event;
  event.set_event_id(id);
  event.set_touchpoint(touchpoint);
  event.set_customer("customer-" + id);
  event.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  event.set_csat(5);
  return event;
}

// The keys every test uses, made through the real AdminService.
struct Keys {
  std::string super_admin;
  std::string demo_admin;    // admin, journeys:read/write, insights:read
  std::string shop;          // events:write on shop
  std::string insights;      // insights:read only
  std::string reader;        // journeys:read only
  std::string cases;         // cases:read and cases:write
  std::string revoked;       // every tenant scope, revoked
  std::string other_admin;   // the tenant "other": admin + every read/write
  std::string other_shop;    // the tenant "other": events:write on shop
  std::vector<std::string> all;
};

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto suite = Suite::Start();
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = suite->release();
    std::ifstream in(suite_->data_dir() + "/superadmin.key");
    std::string super_admin((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    keys_ = new Keys();
    keys_->super_admin = std::string(absl::StripAsciiWhitespace(super_admin));
    keys_->demo_admin = suite_->credentials().admin_key;
    keys_->shop = suite_->credentials().channel_keys.at("shop");

    auto admin = v1::AdminService::NewStub(suite_->GatewayChannel());
    {
      grpc::ClientContext context;
      Suite::Authorize(context, keys_->super_admin);
      v1::CreateTenantRequest request;
      request.set_tenant_id("other");
      v1::Tenant tenant;
      grpc::Status status = admin->CreateTenant(&context, request, &tenant);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    auto create = [&](const std::string& caller, const std::string& tenant,
                      std::vector<std::string> scopes) {
      grpc::ClientContext context;
      Suite::Authorize(context, caller);
      v1::CreateApiKeyRequest request;
      request.set_parent("tenants/" + tenant);
      for (const std::string& scope : scopes) {
        request.mutable_api_key()->add_scopes(scope);
      }
      v1::CreateApiKeyResponse response;
      grpc::Status status = admin->CreateApiKey(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      return response;
    };
    const std::vector<std::string> tenant_scopes = {
        "admin", "journeys:read", "journeys:write", "insights:read"};
    keys_->insights = create(keys_->demo_admin, "demo", {"insights:read"}).key();
    keys_->reader = create(keys_->demo_admin, "demo", {"journeys:read"}).key();
    keys_->cases =
        create(keys_->demo_admin, "demo", {"cases:read", "cases:write"}).key();
    v1::CreateApiKeyResponse revoked =
        create(keys_->demo_admin, "demo", tenant_scopes);
    keys_->revoked = revoked.key();
    keys_->other_admin = create(keys_->super_admin, "other", tenant_scopes).key();
    {
      grpc::ClientContext context;
      Suite::Authorize(context, keys_->other_admin);
      v1::CreateApiKeyRequest request;
      request.set_parent("tenants/other");
      request.mutable_api_key()->add_scopes("events:write");
      request.mutable_api_key()->set_channel("shop");
      v1::CreateApiKeyResponse response;
      grpc::Status status = admin->CreateApiKey(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      keys_->other_shop = response.key();
    }
    {
      grpc::ClientContext context;
      Suite::Authorize(context, keys_->demo_admin);
      v1::RevokeApiKeyRequest request;
      request.set_name(revoked.api_key().name());
      v1::ApiKey key;
      grpc::Status status = admin->RevokeApiKey(&context, request, &key);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    keys_->all = {keys_->super_admin, keys_->demo_admin, keys_->shop,
                  keys_->insights,    keys_->reader,     keys_->revoked,
                  keys_->other_admin, keys_->other_shop, keys_->cases};
    for (const auto& [channel, key] : suite_->credentials().channel_keys) {
      keys_->all.push_back(key);
    }

    // demo's data: a published journey and one event; then other's, so
    // that other's event comes after demo's in the change feed.
    PublishAndSubmit(keys_->demo_admin, keys_->shop, TestJourney(), "demo-1");
    v1::Journey other_journey = TestJourney();
    other_journey.set_key(kOtherJourney);
    PublishAndSubmit(keys_->other_admin, keys_->other_shop, other_journey,
                     "other-1");
    SubmitUntilAccepted(keys_->shop, "demo-2");
  }

  // Creates and publishes `journey` with `admin`, then submits the event
  // `event_id` at its store_visit with `shop`.
  static void PublishAndSubmit(const std::string& admin,
                               const std::string& shop,
                               const v1::Journey& journey,
                               const std::string& event_id) {
    auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
    {
      grpc::ClientContext context;
      Suite::Authorize(context, admin);
      v1::CreateJourneyRequest request;
      *request.mutable_journey() = journey;
      v1::Journey created;
      grpc::Status status =
          journeys->CreateJourney(&context, request, &created);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    {
      grpc::ClientContext context;
      Suite::Authorize(context, admin);
      v1::PublishJourneyRequest request;
      request.set_key(journey.key());
      v1::Journey published;
      grpc::Status status =
          journeys->PublishJourney(&context, request, &published);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    SubmitUntilAccepted(shop, event_id);
  }

  // Submits the event `event_id` at store_visit with `shop`. The feedback
  // service learns of a publish through its watch: retries until the event
  // is accepted (bounded).
  static void SubmitUntilAccepted(const std::string& shop,
                                  const std::string& event_id) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      grpc::ClientContext context;
      Suite::Authorize(context, shop);
      v1::SubmitEventsRequest request;
      *request.add_events() = Event(event_id, "store_visit");
      v1::SubmitEventsResponse response;
      grpc::Status status = feedback->SubmitEvents(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      if (response.results(0).outcome() != v1::EventResult::REJECTED) break;
      ASSERT_LT(absl::Now(), deadline) << response.results(0).reason();
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // The event ids the change feed shows `key`, from the start, until
  // `until` is among them (or 10 s passed); the call must not fail.
  static std::vector<std::string> WatchedEventIds(const std::string& key,
                                                  const std::string& until) {
    auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, key, absl::Seconds(10));
    auto reader = feedback->WatchEvents(&context, v1::WatchEventsRequest());
    std::vector<std::string> ids;
    v1::WatchEventsResponse page;
    bool seen = false;
    while (!seen && reader->Read(&page)) {
      for (const v1::StoredEvent& event : page.events()) {
        ids.push_back(event.event().event_id());
        seen = seen || event.event().event_id() == until;
      }
    }
    if (seen) context.TryCancel();
    grpc::Status status = reader->Finish();
    // Ended by this reader (found it) or by its deadline; never refused.
    EXPECT_TRUE(seen || status.error_code() == grpc::DEADLINE_EXCEEDED)
        << status.error_code() << ": " << status.error_message();
    return ids;
  }

  static void TearDownTestSuite() {
    if (suite_ != nullptr) {
      EXPECT_EQ(suite_->Stop(), absl::OkStatus());
      delete suite_;
      suite_ = nullptr;
    }
    delete keys_;
  }

  // A gRPC call with an empty request message; its final status.
  static grpc::Status RawGrpc(const std::string& method,
                              const std::string& key) {
    grpc::GenericStub stub(suite_->GatewayChannel());
    grpc::ClientContext context;
    if (!key.empty()) context.AddMetadata("authorization", "Bearer " + key);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);  // An empty message, not no message.
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) {
                     done.set_value(std::move(status));
                   });
    return done.get_future().get();
  }

  // An HTTP call to a route with placeholder path values (the tenant is
  // demo); its status.
  static int RawHttp(const gateway::HttpRoute& route, const std::string& key) {
    std::string path = route.path;
    for (size_t at; (at = path.find('{')) != std::string::npos;) {
      size_t end = path.find('}', at);
      bool tenant = path.substr(at, end - at + 1) == "{tenant}";
      path.replace(at, end - at + 1, tenant ? "demo" : "1");
    }
    httplib::Client client(suite_->gateway_http_host(),
                           suite_->gateway_http_port());
    client.set_read_timeout(10, 0);
    httplib::Headers headers = {{"X-Request-Timeout", "1"}};
    if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
    std::string method = route.http_method;
    httplib::Result res =
        method == "GET"     ? client.Get(path.c_str(), headers)
        : method == "PATCH" ? client.Patch(path.c_str(), headers, "{}",
                                           "application/json")
        : method == "PUT"   ? client.Put(path.c_str(), headers, "{}",
                                         "application/json")
                            : client.Post(path.c_str(), headers, "{}",
                                          "application/json");
    if (!res) return -1;
    return res->status;
  }

  // A key that holds what `route` needs, and one that holds neither its
  // scope nor its alternative scope.
  static std::pair<std::string, std::string> RightAndWrongKey(
      const gateway::Route& route) {
    const absl::string_view scope = route.scope;
    if (scope == "events:write") return {keys_->shop, keys_->demo_admin};
    if (scope == "admin") return {keys_->demo_admin, keys_->reader};
    if (scope == "superadmin") return {keys_->super_admin, keys_->demo_admin};
    if (scope == "insights:read") return {keys_->insights, keys_->shop};
    // The harness starts no polku-cases: the right key hears UNAVAILABLE.
    if (absl::StartsWith(scope, "cases:")) {
      return {keys_->cases, keys_->demo_admin};
    }
    // journeys:*; a route an insights key may also use needs another "wrong".
    if (route.also_scope != nullptr &&
        absl::string_view(route.also_scope) == "insights:read") {
      return {keys_->demo_admin, keys_->shop};
    }
    return {keys_->demo_admin, keys_->insights};
  }

  static Suite* suite_;
  static Keys* keys_;
};

Suite* GatewayTest::suite_ = nullptr;
Keys* GatewayTest::keys_ = nullptr;

// Every routed RPC, over gRPC, with every kind of key: the exact code.
TEST_F(GatewayTest, EveryRpcWithEveryKindOfKeyOverGrpc) {
  const std::string malformed = "polku_" + std::string(72, 'a');
  for (const std::string& method : gateway::RoutedMethods()) {
    SCOPED_TRACE(method);
    auto route = gateway::FindRoute(method);
    ASSERT_TRUE(route.ok());
    auto [right, wrong] = RightAndWrongKey(*route);
    EXPECT_EQ(RawGrpc(method, "").error_code(), grpc::UNAUTHENTICATED);
    EXPECT_EQ(RawGrpc(method, malformed).error_code(), grpc::UNAUTHENTICATED);
    EXPECT_EQ(RawGrpc(method, keys_->revoked).error_code(),
              grpc::UNAUTHENTICATED);
    EXPECT_EQ(RawGrpc(method, wrong).error_code(), grpc::PERMISSION_DENIED);
    // The right key gets past the gateway (the backend may still dislike
    // the empty request).
    grpc::StatusCode code = RawGrpc(method, right).error_code();
    EXPECT_NE(code, grpc::UNAUTHENTICATED);
    EXPECT_NE(code, grpc::PERMISSION_DENIED);
    EXPECT_NE(code, grpc::UNIMPLEMENTED);
  }
}

// The same over HTTP, for every route.
TEST_F(GatewayTest, EveryRouteWithEveryKindOfKeyOverHttp) {
  const std::string malformed = "polku_" + std::string(72, 'a');
  for (const gateway::HttpRoute& route : gateway::HttpRoutes()) {
    SCOPED_TRACE(absl::StrCat(route.http_method, " ", route.path));
    auto authz = gateway::FindRoute(route.rpc);
    ASSERT_TRUE(authz.ok());
    auto [right, wrong] = RightAndWrongKey(*authz);
    EXPECT_EQ(RawHttp(route, ""), 401);
    EXPECT_EQ(RawHttp(route, malformed), 401);
    EXPECT_EQ(RawHttp(route, keys_->revoked), 401);
    EXPECT_EQ(RawHttp(route, wrong), 403);
    int status = RawHttp(route, right);
    EXPECT_NE(status, 401);
    EXPECT_NE(status, 403);
    EXPECT_NE(status, 501);
    EXPECT_NE(status, -1);
  }
}

// A channel key writes only its own channel's touchpoints.
TEST_F(GatewayTest, ShopKeyCannotWriteWebEvents) {
  auto feedback = v1::FeedbackService::NewStub(suite_->GatewayChannel());
  grpc::ClientContext context;
  Suite::Authorize(context, keys_->shop);
  v1::SubmitEventsRequest request;
  *request.add_events() = Event("wrong-channel-1", "web_order");
  v1::SubmitEventsResponse response;
  ASSERT_TRUE(feedback->SubmitEvents(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).outcome(), v1::EventResult::REJECTED);
  EXPECT_THAT(response.results(0).reason(), HasSubstr("channel"));

  httplib::Client client(suite_->gateway_http_host(),
                         suite_->gateway_http_port());
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
  httplib::Result res = client.Post(
      "/v1/events", {{"Authorization", "Bearer " + keys_->shop}}, json,
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("REJECTED"));
}

// A client stream over HTTP: NDJSON in, NDJSON out, every event answered.
TEST_F(GatewayTest, StreamEventsOverHttpTakesAndAnswersNdjson) {
  std::string body;
  for (const char* id : {"ndjson-1", "ndjson-2"}) {
    v1::StreamEventsRequest request;
    *request.add_events() = Event(id, "store_visit");
    std::string line;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(request, &line).ok());
    body += line + "\n";
  }
  httplib::Client client(suite_->gateway_http_host(),
                         suite_->gateway_http_port());
  client.set_read_timeout(10, 0);
  httplib::Result res =
      client.Post("/v1/events:stream",
                  {{"Authorization", "Bearer " + keys_->shop}}, body,
                  "application/x-ndjson");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  int answered = 0;
  for (absl::string_view line :
       absl::StrSplit(res->body, '\n', absl::SkipEmpty())) {
    v1::StreamEventsResponse response;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    google::protobuf::StringPiece(line.data(), line.size()),
                    &response)
                    .ok())
        << line;
    for (const v1::EventResult& result : response.results()) {
      EXPECT_NE(result.outcome(), v1::EventResult::REJECTED) << result.reason();
      ++answered;
    }
  }
  EXPECT_EQ(answered, 2) << res->body;
}

// More events in one NDJSON body than polku-feedback keeps unacknowledged
// per stream: the gateway writes the whole body before reading answers, so
// the call must still end — answered, or refused at its deadline — never hang.
TEST_F(GatewayTest, AnNdjsonBodyBeyondTheStreamWindowEnds) {
  std::string body;
  for (int i = 0; i < 2500; ++i) {
    v1::StreamEventsRequest request;
    *request.add_events() = Event(absl::StrCat("big-ndjson-", i), "store_visit");
    std::string line;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(request, &line).ok());
    body += line + "\n";
  }
  httplib::Client client(suite_->gateway_http_host(), suite_->gateway_http_port());
  client.set_read_timeout(60, 0);
  httplib::Result res = client.Post(
      "/v1/events:stream",
      {{"Authorization", "Bearer " + keys_->shop}}, body,
      "application/x-ndjson");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_TRUE(res->status == 200 || res->status == 504) << res->status << " " << res->body;
}

// A second tenant's key never sees the first tenant's data.
TEST_F(GatewayTest, OtherTenantSeesNoneOfDemosData) {
  auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->other_admin);
    v1::GetJourneyRequest request;
    request.set_key(kJourney);
    v1::Journey journey;
    EXPECT_EQ(journeys->GetJourney(&context, request, &journey).error_code(),
              grpc::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->other_admin);
    v1::ListJourneysResponse response;
    ASSERT_TRUE(journeys->ListJourneys(&context, {}, &response).ok());
    for (const v1::Journey& journey : response.journeys()) {
      EXPECT_NE(journey.key(), kJourney);
    }
  }
  {
    auto insight = v1::InsightService::NewStub(suite_->GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->other_admin);
    v1::GetScorecardRequest request;
    request.set_journey(kJourney);
    v1::Scorecard scorecard;
    grpc::Status status = insight->GetScorecard(&context, request, &scorecard);
    if (status.ok()) {
      EXPECT_EQ(scorecard.rows_size(), 0);
      EXPECT_EQ(scorecard.total().events(), 0);
    } else {
      EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
    }
  }
  // The change feed, from the start, up to the tenant's own event: its own
  // events, none of the other's (the feed holds demo-1, other-1, demo-2 in
  // that order). A call that failed would show none, and fail here.
  EXPECT_THAT(WatchedEventIds(keys_->other_admin, "other-1"),
              ElementsAre("other-1"));
  std::vector<std::string> demo_ids =
      WatchedEventIds(keys_->demo_admin, "demo-2");
  EXPECT_THAT(demo_ids, Contains("demo-1"));
  EXPECT_THAT(demo_ids, Contains("demo-2"));
  EXPECT_THAT(demo_ids, Not(Contains("other-1")));
  httplib::Client client(suite_->gateway_http_host(),
                         suite_->gateway_http_port());
  httplib::Headers other = {{"Authorization", "Bearer " + keys_->other_admin}};
  EXPECT_EQ(client.Get(absl::StrCat("/v1/journeys/", kJourney).c_str(), other)
                ->status,
            404);
  // Nor can it manage demo's keys.
  EXPECT_EQ(client.Get("/v1/tenants/demo/apiKeys", other)->status, 403);
  // While demo's own admin key does see its journey.
  EXPECT_EQ(client
                .Get(absl::StrCat("/v1/journeys/", kJourney).c_str(),
                     {{"Authorization", "Bearer " + keys_->demo_admin}})
                ->status,
            200);
}

// A dashboard key (insights:read) lists the published journeys by name:
// no stages, no touchpoints, no journey that only has a draft; over gRPC
// and HTTP alike, whatever view it asks for. A journeys:read key still
// reads them whole.
TEST_F(GatewayTest, AnInsightsKeyListsPublishedJourneysByNameOnly) {
  auto journeys = v1::JourneyService::NewStub(suite_->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->demo_admin);
    v1::CreateJourneyRequest request;
    *request.mutable_journey() = TestJourney();
    request.mutable_journey()->set_key("gw-draft-only");
    request.mutable_journey()->set_name("Unannounced plans");
    v1::Journey created;
    grpc::Status status = journeys->CreateJourney(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::ListJourneysRequest request;
  request.set_page_size(1000);
  request.set_view(v1::JOURNEY_VIEW_FULL);
  const auto check_basic = [](const v1::ListJourneysResponse& list,
                              const std::string& how) {
    bool listed = false;
    for (const v1::Journey& journey : list.journeys()) {
      EXPECT_NE(journey.key(), "gw-draft-only") << how;
      EXPECT_EQ(journey.stages_size(), 0) << how << " " << journey.key();
      EXPECT_EQ(journey.touchpoints_size(), 0) << how << " " << journey.key();
      if (journey.key() == kJourney) {
        listed = true;
        EXPECT_EQ(journey.name(), "Gateway test journey") << how;
        EXPECT_EQ(journey.state(), v1::PUBLISHED) << how;
        EXPECT_EQ(journey.version(), 1) << how;
      }
    }
    EXPECT_TRUE(listed) << how;
  };
  {
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->insights);
    v1::ListJourneysResponse list;
    grpc::Status status = journeys->ListJourneys(&context, request, &list);
    ASSERT_TRUE(status.ok()) << status.error_message();
    check_basic(list, "gRPC");
  }
  {
    httplib::Client client(suite_->gateway_http_host(),
                           suite_->gateway_http_port());
    httplib::Result res =
        client.Get("/v1/journeys?view=JOURNEY_VIEW_FULL&page_size=1000",
                   {{"Authorization", "Bearer " + keys_->insights}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_THAT(res->body, Not(HasSubstr("Unannounced plans")));
    EXPECT_THAT(res->body, Not(HasSubstr("store_visit")));
    v1::ListJourneysResponse list;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(res->body, &list).ok())
        << res->body;
    check_basic(list, "HTTP");
  }
  {
    grpc::ClientContext context;
    Suite::Authorize(context, keys_->reader);
    v1::ListJourneysResponse list;
    grpc::Status status = journeys->ListJourneys(&context, request, &list);
    ASSERT_TRUE(status.ok()) << status.error_message();
    bool draft = false;
    bool published = false;
    for (const v1::Journey& journey : list.journeys()) {
      draft = draft || journey.key() == "gw-draft-only";
      if (journey.key() == kJourney) {
        published = true;
        EXPECT_EQ(journey.touchpoints_size(), 2);
      }
    }
    EXPECT_TRUE(draft);
    EXPECT_TRUE(published);
  }
}

TEST_F(GatewayTest, PolkuKeysManagesTenantsThroughTheGateway) {
  std::string command = absl::StrCat(
      testing::BinaryPath("polku-keys"), " --gateway=",
      suite_->gateway_grpc_address(), " --data_dir=", suite_->data_dir(),
      " list-tenants 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) {
    output.append(buffer, n);
  }
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, HasSubstr("tenants/demo"));
  EXPECT_THAT(output, HasSubstr("tenants/other"));
}

// gateway.db (and its WAL), byte for byte, holds no key and no long piece
// of one; the credentials the suite started with came from it.
TEST_F(GatewayTest, GatewayDatabaseHoldsNoPlaintextKey) {
  std::string bytes;
  for (const auto& entry :
       std::filesystem::directory_iterator(suite_->data_dir())) {
    if (entry.path().filename().string().rfind("gateway.db", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 0u);
  for (const std::string& key : keys_->all) {
    ASSERT_EQ(key.size(), 78u);
    EXPECT_THAT(bytes, Not(HasSubstr(key)));
    for (size_t at = 6; at + 16 <= key.size(); at += 8) {
      EXPECT_THAT(bytes, Not(HasSubstr(key.substr(at, 16))));
    }
  }
}

}  // namespace
}  // namespace polku
