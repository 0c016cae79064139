#include "gateway/grpc_proxy.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gateway/caller_auth.h"
#include "gateway/fake_backends.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"

namespace polku::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class GrpcProxyTest : public ::testing::Test {
 protected:
  GrpcProxyTest()
      : proxy_(*keys_.store, fakes_.Connect(), keys_.admin, keys_.executor) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterCallbackGenericService(&proxy_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    feedback_ = v1::FeedbackService::NewStub(channel_);
    insight_ = v1::InsightService::NewStub(channel_);
  }

  ~GrpcProxyTest() override {
    // Every call the proxy relayed has been cleaned up.
    for (int i = 0; i < 5000 && proxy_.active_calls() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(proxy_.active_calls(), 0);
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
  }

  // A context with a 10 s deadline and the given key.
  static std::unique_ptr<grpc::ClientContext> Context(
      const std::string& authorization = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    if (!authorization.empty()) {
      context->AddMetadata("authorization", authorization);
    }
    return context;
  }

  static v1::SubmitEventsRequest OneEvent(const std::string& event_id) {
    v1::SubmitEventsRequest request;
    request.add_events()->set_event_id(event_id);
    return request;
  }

  testing::FakeBackends fakes_;
  testing::TestKeys keys_;
  const std::string& admin_key_ = keys_.admin_key;
  const std::string& shop_key_ = keys_.shop_key;
  GrpcProxy proxy_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
};

TEST_F(GrpcProxyTest, CallWithoutKeyIsUnauthenticated) {
  v1::SubmitEventsResponse response;
  grpc::Status status =
      feedback_->SubmitEvents(Context().get(), OneEvent("e1"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("missing API key"));
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(GrpcProxyTest, MalformedAndUnknownKeysAreUnauthenticated) {
  v1::SubmitEventsResponse response;
  grpc::Status malformed = feedback_->SubmitEvents(
      Context("Bearer polku_1234").get(), OneEvent("e1"), &response);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(malformed.error_message(), "malformed API key");

  grpc::Status not_bearer = feedback_->SubmitEvents(
      Context("Basic " + shop_key_).get(), OneEvent("e1"), &response);
  EXPECT_EQ(not_bearer.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  grpc::Status unknown =
      feedback_->SubmitEvents(Context("Bearer " + keys::GenerateKey()).get(),
                              OneEvent("e1"), &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(unknown.error_message(), "unknown or revoked API key");
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(GrpcProxyTest, ChannelKeyCannotReadScorecards) {
  v1::Scorecard scorecard;
  grpc::Status status =
      insight_->GetScorecard(Context("Bearer " + shop_key_).get(),
                             v1::GetScorecardRequest(), &scorecard);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("insights:read"));
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(GrpcProxyTest, AdminKeyCannotSubmitEvents) {
  v1::SubmitEventsResponse response;
  grpc::Status status = feedback_->SubmitEvents(
      Context("Bearer " + admin_key_).get(), OneEvent("e1"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("events:write"));
}

TEST_F(GrpcProxyTest, TenantAndChannelComeFromTheKeyNotTheClient) {
  auto context = Context("Bearer " + shop_key_);
  context->AddMetadata("x-polku-tenant", "someone-else");
  context->AddMetadata("x-polku-channel", "web");
  context->AddMetadata("x-request-id", "req-42");
  v1::SubmitEventsRequest request = OneEvent("e1");
  request.add_events()->set_event_id("e2");
  v1::SubmitEventsResponse response;
  grpc::Status status =
      feedback_->SubmitEvents(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).event_id(), "e1");
  EXPECT_EQ(response.results(1).event_id(), "e2");
  EXPECT_EQ(response.results(1).reason(), "tenant=demo channel=shop");

  testing::SeenCall seen = fakes_.log.last();
  EXPECT_THAT(seen.tenants, ElementsAre("demo"));
  EXPECT_THAT(seen.channels, ElementsAre("shop"));
  EXPECT_THAT(seen.request_ids, ElementsAre("req-42"));
  EXPECT_THAT(seen.authorizations, IsEmpty());  // The key stays here.
  auto echoed = context->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(echoed, context->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()),
            "req-42");
}

// Who acted reaches the backend from the key, never from the client: a key
// names itself; only an act_as key may name a person, once, printable.
TEST_F(GrpcProxyTest, TheActorIsTheKeyOrThePersonAnActAsKeyNames) {
  v1::GetScorecardRequest request;
  request.set_journey("j");
  v1::Scorecard scorecard;
  ASSERT_TRUE(insight_->GetScorecard(Context("Bearer " + keys_.insights_key).get(),
                                     request, &scorecard)
                  .ok());
  const std::string insights_id = keys::KeyId(keys_.insights_key);
  EXPECT_THAT(fakes_.log.last().actors,
              ElementsAre("dashboard (key " + insights_id + ")"));

  auto claimed = Context("Bearer " + keys_.insights_key);
  claimed->AddMetadata("x-polku-actor", "alice@example.com");
  const size_t before = fakes_.log.calls().size();
  grpc::Status refused = insight_->GetScorecard(claimed.get(), request, &scorecard);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("act_as"));
  EXPECT_EQ(fakes_.log.calls().size(), before);  // reached no backend

  auto named = Context("Bearer " + keys_.desk_key);
  named->AddMetadata("x-polku-actor", "alice@example.com");
  named->AddMetadata("x-polku-actor", "mallory");  // only the first counts
  ASSERT_TRUE(insight_->GetScorecard(named.get(), request, &scorecard).ok());
  EXPECT_THAT(fakes_.log.last().actors,
              ElementsAre("alice@example.com via helpdesk (key " +
                          keys::KeyId(keys_.desk_key) + ")"));

  auto too_long = Context("Bearer " + keys_.desk_key);
  too_long->AddMetadata("x-polku-actor", std::string(129, 'a'));
  grpc::Status bad = insight_->GetScorecard(too_long.get(), request, &scorecard);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("x-polku-actor"));
}

TEST_F(GrpcProxyTest, AdminKeyCallsCarryTenantWithoutChannel) {
  v1::GetScorecardRequest request;
  request.set_journey("home-renovation");
  v1::Scorecard scorecard;
  grpc::Status status = insight_->GetScorecard(
      Context("Bearer " + admin_key_).get(), request, &scorecard);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(scorecard.journey(), "home-renovation tenant=demo channel=");
  testing::SeenCall seen = fakes_.log.last();
  EXPECT_THAT(seen.channels, IsEmpty());
  ASSERT_EQ(seen.request_ids.size(), 1u);
  EXPECT_FALSE(seen.request_ids[0].empty());  // Generated by the gateway.
}

TEST_F(GrpcProxyTest, UnaryCallsGetADefaultDeadline) {
  v1::SubmitEventsResponse response;
  grpc::ClientContext context;  // No deadline from the client.
  context.AddMetadata("authorization", "Bearer " + shop_key_);
  ASSERT_TRUE(
      feedback_->SubmitEvents(&context, OneEvent("e1"), &response).ok());
  auto remaining =
      fakes_.log.last().deadline - std::chrono::system_clock::now();
  // grpc-timeout is rounded up on the wire.
  EXPECT_LE(remaining, std::chrono::seconds(kDefaultDeadlineSeconds + 1));
  EXPECT_GT(remaining, std::chrono::seconds(kDefaultDeadlineSeconds - 10));
}

TEST_F(GrpcProxyTest, RelaysServerStreams) {
  grpc::ClientContext context;  // A watch has no deadline of its own.
  context.AddMetadata("authorization", "Bearer " + admin_key_);
  v1::WatchEventsRequest request;
  request.set_from_sequence(7);
  auto reader = feedback_->WatchEvents(&context, request);
  std::vector<int64_t> sequences;
  v1::WatchEventsResponse message;
  while (reader->Read(&message)) {
    ASSERT_EQ(message.events_size(), 1);
    EXPECT_EQ(message.events(0).tenant(), "demo");
    sequences.push_back(message.events(0).sequence());
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(sequences, ElementsAre(7, 8, 9));
  // No 30 s cap on an endless stream.
  EXPECT_GT(fakes_.log.last().deadline,
            std::chrono::system_clock::now() + std::chrono::hours(1));
}

TEST_F(GrpcProxyTest, CancellingAWatchCancelsTheBackendCall) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_key_);
  v1::WatchEventsRequest request;
  request.set_from_sequence(-1);  // Endless.
  auto reader = feedback_->WatchEvents(&context, request);
  v1::WatchEventsResponse message;
  ASSERT_TRUE(reader->Read(&message));
  context.TryCancel();
  EXPECT_TRUE(fakes_.feedback.watch_cancelled.WaitForNotificationWithTimeout(
      absl::Seconds(10)));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// SIGTERM's first step: an open watch ends at once, with UNAVAILABLE (so
// its client reconnects elsewhere), not at the drain deadline; a new one is
// refused; short calls still pass.
TEST_F(GrpcProxyTest, EndStreamsEndsOpenWatchesWithUnavailable) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_key_);
  v1::WatchEventsRequest request;
  request.set_from_sequence(-1);  // Endless.
  auto reader = feedback_->WatchEvents(&context, request);
  v1::WatchEventsResponse message;
  ASSERT_TRUE(reader->Read(&message));

  const absl::Time start = absl::Now();
  proxy_.EndStreams();
  EXPECT_FALSE(reader->Read(&message));
  grpc::Status status = reader->Finish();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_TRUE(fakes_.feedback.watch_cancelled.WaitForNotificationWithTimeout(
      absl::Seconds(10)));

  grpc::ClientContext late;
  late.AddMetadata("authorization", "Bearer " + admin_key_);
  auto refused = feedback_->WatchEvents(&late, request);
  EXPECT_FALSE(refused->Read(&message));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  v1::SubmitEventsResponse response;
  EXPECT_TRUE(feedback_
                  ->SubmitEvents(Context("Bearer " + shop_key_).get(),
                                 OneEvent("after-end-streams"), &response)
                  .ok());
}

// A key with insights:read but not journeys:read lists journeys in the
// basic view whatever it asks for; a journeys:read key gets what it asks.
TEST_F(GrpcProxyTest, AnInsightsKeyListsJourneysInTheBasicViewOnly) {
  auto journeys = v1::JourneyService::NewStub(channel_);
  v1::ListJourneysRequest request;
  request.set_page_size(3);
  request.set_view(v1::JOURNEY_VIEW_FULL);
  v1::ListJourneysResponse response;
  grpc::Status status = journeys->ListJourneys(
      Context("Bearer " + keys_.insights_key).get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.journeys_size(), 1);
  EXPECT_EQ(response.journeys(0).description(), "view=JOURNEY_VIEW_BASIC");
  EXPECT_EQ(response.next_page_token(), "3/");  // The rest is as sent.

  status = journeys->ListJourneys(Context("Bearer " + admin_key_).get(),
                                  request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.journeys(0).description(), "view=JOURNEY_VIEW_FULL");
}

// Raw bytes that end inside a field (page_token, 2 bytes announced, none
// sent) would swallow an appended view: refused, never forwarded.
TEST_F(GrpcProxyTest, AnInsightsKeysRequestThatDoesNotParseIsRefused) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  context.AddMetadata("authorization", "Bearer " + keys_.insights_key);
  grpc::Slice cut(std::string("\x12\x02", 2));
  grpc::ByteBuffer request(&cut, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/polku.v1.JourneyService/ListJourneys",
                 grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("ListJourneysRequest"));
  for (const testing::SeenCall& call : fakes_.log.calls()) {
    EXPECT_NE(call.method, "ListJourneys");
  }
}

TEST_F(GrpcProxyTest, ConcurrentCallsAndCancellationsAllFinish) {
  std::vector<std::thread> threads;
  std::atomic<int> ok_calls{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        v1::SubmitEventsResponse response;
        if (feedback_
                ->SubmitEvents(Context("Bearer " + shop_key_).get(),
                               OneEvent(absl::StrCat("e", t, "-", i)),
                               &response)
                .ok()) {
          ok_calls.fetch_add(1);
        }
        // A watch abandoned after its first message, or mid-stream.
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer " + admin_key_);
        v1::WatchEventsRequest request;
        request.set_from_sequence(i % 2 == 0 ? 1 : 5);
        auto reader = feedback_->WatchEvents(&context, request);
        v1::WatchEventsResponse message;
        reader->Read(&message);
        context.TryCancel();
        reader->Finish();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok_calls.load(), 8 * 20);
  // The fixture's destructor checks that no proxied call is left over.
}

TEST_F(GrpcProxyTest, RelaysBackendErrorCodeAndMessage) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::RESOURCE_EXHAUSTED,
        grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::INTERNAL}) {
    v1::SubmitEventsResponse response;
    std::unique_ptr<grpc::ClientContext> context = Context("Bearer " + shop_key_);
    grpc::Status status = feedback_->SubmitEvents(
        context.get(), OneEvent(absl::StrCat("error:", static_cast<int>(code))), &response);
    EXPECT_EQ(status.error_code(), code);
    EXPECT_EQ(status.error_message(), "fake failure");
    // The backend's retry hint reaches the caller.
    auto hint = context->GetServerTrailingMetadata().find(kRetryAfterMsTrailer);
    if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ASSERT_NE(hint, context->GetServerTrailingMetadata().end());
      EXPECT_EQ(hint->second, "1500");
    } else {
      EXPECT_EQ(hint, context->GetServerTrailingMetadata().end());
    }
  }
}

TEST_F(GrpcProxyTest, UnknownMethodIsUnimplemented) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  context.AddMetadata("authorization", "Bearer " + admin_key_);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/polku.v1.FeedbackService/DropEverything",
                 grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

TEST_F(GrpcProxyTest, RateLimitIsResourceExhaustedWithRetryHint) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  RateLimiter limiter({}, {.per_second = 4, .burst = 1}, clock);
  Metrics metrics;
  GrpcProxy proxy(*keys_.store, fakes_.Connect(), keys_.admin, keys_.executor);
  proxy.set_rate_limiter(&limiter);
  proxy.set_metrics(&metrics);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterCallbackGenericService(&proxy);
  auto server = builder.BuildAndStart();
  auto stub = v1::FeedbackService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  v1::SubmitEventsResponse response;
  EXPECT_TRUE(stub->SubmitEvents(Context("Bearer " + shop_key_).get(),
                                 OneEvent("e1"), &response)
                  .ok());
  auto context = Context("Bearer " + shop_key_);
  grpc::Status limited =
      stub->SubmitEvents(context.get(), OneEvent("e2"), &response);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.error_message(), HasSubstr("tenant"));
  auto trailer = context->GetServerTrailingMetadata().find("retry-after-ms");
  ASSERT_NE(trailer, context->GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(trailer->second.data(), trailer->second.size()), "250");
  EXPECT_THAT(
      metrics.Render(),
      HasSubstr("polku_gateway_rate_limited_total{limit=\"tenant\"} 1"));
  clock.Advance(absl::Milliseconds(250));
  EXPECT_TRUE(stub->SubmitEvents(Context("Bearer " + shop_key_).get(),
                                 OneEvent("e3"), &response)
                  .ok());
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

TEST_F(GrpcProxyTest, AdminServiceIsAnsweredByTheGateway) {
  auto admin = v1::AdminService::NewStub(channel_);
  v1::CreateApiKeyRequest request;
  request.set_parent("tenants/demo");
  request.mutable_api_key()->add_scopes("insights:read");
  v1::CreateApiKeyResponse created;
  grpc::Status status = admin->CreateApiKey(
      Context("Bearer " + admin_key_).get(), request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::Scorecard scorecard;
  EXPECT_TRUE(insight_
                  ->GetScorecard(Context("Bearer " + created.key()).get(), {},
                                 &scorecard)
                  .ok());
  // A channel key may not manage keys; nothing reached a backend for these.
  EXPECT_EQ(admin
                ->CreateApiKey(Context("Bearer " + shop_key_).get(), request,
                               &created)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RevokeApiKeyRequest revoke;
  revoke.set_name(created.api_key().name());
  v1::ApiKey revoked;
  ASSERT_TRUE(admin
                  ->RevokeApiKey(Context("Bearer " + admin_key_).get(), revoke,
                                 &revoked)
                  .ok());
  EXPECT_EQ(insight_
                ->GetScorecard(Context("Bearer " + created.key()).get(), {},
                               &scorecard)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(GrpcProxyTest, UnreachableBackendIsUnavailable) {
  // A proxy whose backends listen nowhere.
  GrpcProxy proxy(*keys_.store,
                  Backends::Connect({.feedback = "127.0.0.1:1",
                                     .journey = "127.0.0.1:1",
                                     .insight = "127.0.0.1:1"}),
                  keys_.admin, keys_.executor);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterCallbackGenericService(&proxy);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::FeedbackService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  v1::SubmitEventsResponse response;
  grpc::Status status = stub->SubmitEvents(Context("Bearer " + shop_key_).get(),
                                           OneEvent("e1"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

// Without --cases_address the gateway has no polku-cases: a CaseService call
// with the right scope is UNAVAILABLE naming the flag (and reaches nothing),
// one without it is still PERMISSION_DENIED.
TEST_F(GrpcProxyTest, CaseServiceWithoutCasesAddressIsUnavailable) {
  const std::string cases_key =
      keys_.store
          ->CreateKey("demo", "cases", {keys::kScopeCasesRead}, "")
          ->key;
  auto cases = v1::CaseService::NewStub(channel_);
  v1::GetCaseRequest request;
  request.set_case_id("c1");
  v1::Case found;
  grpc::Status status =
      cases->GetCase(Context("Bearer " + cases_key).get(), request, &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("--cases_address"));
  grpc::Status denied =
      cases->GetCase(Context("Bearer " + admin_key_).get(), request, &found);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("cases:read"));
  EXPECT_THAT(fakes_.log.calls(), IsEmpty());
}

}  // namespace
}  // namespace polku::gateway
