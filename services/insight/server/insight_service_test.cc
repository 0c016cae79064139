#include "services/insight/server/insight_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "services/insight/server/alert_monitor.h"
#include "services/insight/store/memory_rollup_store.h"
#include "services/insight/store/rollup_test_util.h"
#include "services/insight/sqlite/sqlite_rollup_store.h"

namespace polku::insight {
namespace {

using ::testing::HasSubstr;
using testing::MakeEvent;

class InsightServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteRollupStore::Open(testing::ScratchDir() + "/insight.db",
                                         /*durable=*/false);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);

    // acme: NPS 10, 10, 0 at the web site → p = 2/3, d = 1/3 → NPS 33.33…
    // globex: one NPS 0 in a journey of the same key.
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    *page.Add() = MakeEvent({.sequence = 1, .nps = 10});
    *page.Add() = MakeEvent({.sequence = 2, .nps = 10});
    *page.Add() = MakeEvent({.sequence = 3, .nps = 0});
    *page.Add() = MakeEvent({.sequence = 4, .tenant = "globex", .nps = 0});
    ASSERT_TRUE(store_->Apply(page).ok());

    service_ = std::make_unique<InsightServiceImpl>(*store_, executor_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::InsightService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // Calls GetScorecard as `tenant` ("" = no tenant metadata).
  grpc::Status GetScorecard(const std::string& tenant,
                            const v1::GetScorecardRequest& request,
                            v1::Scorecard& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    if (!tenant.empty()) context.AddMetadata(rpc::kTenantHeader, tenant);
    return stub_->GetScorecard(&context, request, &response);
  }

  static v1::GetScorecardRequest Switching() {
    v1::GetScorecardRequest request;
    request.set_journey("switching");
    return request;
  }

  std::unique_ptr<SqliteRollupStore> store_;
  Executor executor_{2};
  std::unique_ptr<InsightServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::InsightService::Stub> stub_;
};

TEST_F(InsightServiceTest, WithoutTenantIsUnauthenticated) {
  v1::Scorecard card;
  grpc::Status status = GetScorecard("", Switching(), card);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(InsightServiceTest, WithoutJourneyIsInvalidArgumentNamingIt) {
  v1::Scorecard card;
  grpc::Status status = GetScorecard("acme", v1::GetScorecardRequest(), card);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("journey"));
}

TEST_F(InsightServiceTest, AnswersTheCallersTenantsScorecard) {
  v1::Scorecard card;
  grpc::Status status = GetScorecard("acme", Switching(), card);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(card.journey(), "switching");
  EXPECT_EQ(card.as_of_sequence(), 4);
  ASSERT_EQ(card.rows_size(), 1);
  EXPECT_EQ(card.rows(0).group(), "web_site");
  EXPECT_EQ(card.rows(0).events(), 3);
  // 100·(2/3 − 1/3) = 33.333…
  EXPECT_NEAR(card.rows(0).nps().score(), 33.333333333333336, 1e-9);
  EXPECT_EQ(card.total().events(), 3);

  v1::Scorecard globex;
  status = GetScorecard("globex", Switching(), globex);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(globex.total().events(), 1);
  EXPECT_NEAR(globex.total().nps().score(), -100, 1e-9);

  v1::Scorecard stranger;
  status = GetScorecard("initech", Switching(), stranger);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stranger.rows_size(), 0);
  EXPECT_EQ(stranger.total().events(), 0);
}

// A lineage that answers what the test says.
class FakeLineage : public JourneyLineage {
 public:
  absl::StatusOr<TouchpointSuccessors> Successors(
      absl::string_view tenant, absl::string_view journey) override {
    asked = absl::StrCat(tenant, "/", journey);
    return answer;
  }
  absl::StatusOr<TouchpointSuccessors> answer;
  std::string asked;
};

TEST_F(InsightServiceTest, AcrossVersionsAsksTheLineage) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  *page.Add() = MakeEvent({.sequence = 5,
                           .journey_version = 2,
                           .touchpoint = "web_page",
                           .nps = 10});
  ASSERT_TRUE(store_->Apply(page).ok());
  FakeLineage lineage;
  lineage.answer = TouchpointSuccessors{{"web_site", "web_page"}};
  InsightServiceImpl with_lineage(*store_, executor_, {.lineage = &lineage});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&with_lineage);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = v1::InsightService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto call = [&](const v1::GetScorecardRequest& request, v1::Scorecard& card) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.AddMetadata(rpc::kTenantHeader, "acme");
    return stub->GetScorecard(&context, request, &card);
  };

  v1::Scorecard card;
  ASSERT_TRUE(call(Switching(), card).ok());
  EXPECT_EQ(lineage.asked, "acme/switching");
  ASSERT_EQ(card.rows_size(), 1);
  EXPECT_EQ(card.rows(0).group(), "web_page");
  EXPECT_EQ(card.rows(0).events(), 4);

  // One version keeps its keys; without a chain (polku-journey down) every
  // event still counts, under the key it was recorded with.
  v1::GetScorecardRequest v1_only = Switching();
  v1_only.set_journey_version(1);
  ASSERT_TRUE(call(v1_only, card).ok());
  ASSERT_EQ(card.rows_size(), 1);
  EXPECT_EQ(card.rows(0).group(), "web_site");
  lineage.answer = absl::UnavailableError("polku-journey is down");
  ASSERT_TRUE(call(Switching(), card).ok());
  ASSERT_EQ(card.rows_size(), 2);
  EXPECT_EQ(card.total().events(), 4);
  server->Shutdown();
}


// A journey source that knows one journey of acme.
class FakeJourneys : public JourneySource {
 public:
  absl::StatusOr<v1::Journey> Journey(absl::string_view tenant,
                                      absl::string_view key,
                                      int32_t version) override {
    if (tenant != "acme" || key != "switching" || version > 1) {
      return absl::NotFoundError(absl::StrCat("journey \"", key, "\" not found"));
    }
    v1::Journey journey;
    journey.set_key("switching");
    journey.set_version(1);
    v1::Stage* stage = journey.add_stages();
    stage->set_key("research");
    v1::Touchpoint* touchpoint = journey.add_touchpoints();
    touchpoint->set_key("web_site");
    touchpoint->set_stage("research");
    touchpoint->set_channel("web");
    return journey;
  }
};

// The monitoring calls over a fake store, with a monitor wired as main.cc
// wires it.
class MonitoringServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_.SetListener([this](const std::string& tenant, const v1::Alert& alert) {
      service_.AlertChanged(tenant, alert);
    });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::InsightService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    service_.EndStreams();
    server_->Shutdown();
  }

  // Dated `day` days after 2024-03-01.
  void Add(int day, int csat, const std::string& journey = "switching") {
    store_.Add(MakeEvent({.sequence = ++sequence_,
                          .journey = journey,
                          .offset_seconds = day * 24 * 3600 + 60,
                          .csat = csat}));
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& tenant) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    if (!tenant.empty()) context->AddMetadata(rpc::kTenantHeader, tenant);
    return context;
  }

  static v1::GetScorecardRequest Switching() {
    v1::GetScorecardRequest request;
    request.set_journey("switching");
    return request;
  }

  static v1::Alert MakeAlert(const std::string& id, int64_t first_seen,
                             v1::AlertState state = v1::OPEN) {
    v1::Alert alert;
    alert.set_id(id);
    alert.set_journey("switching");
    alert.set_scope(v1::GROUP_BY_TOUCHPOINT);
    alert.set_key(id);
    alert.set_state(state);
    alert.mutable_first_seen()->set_seconds(first_seen);
    return alert;
  }

  testing::FakeRollupStore store_;
  FakeJourneys journeys_;
  Executor executor_{2};
  AlertMonitor monitor_{store_, {}};
  InsightServiceImpl service_{store_, executor_, {.journeys = &journeys_}};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::InsightService::Stub> stub_;
  int64_t sequence_ = 0;
};

TEST_F(MonitoringServiceTest, EveryCallNeedsATenant) {
  v1::Trend trend;
  EXPECT_EQ(stub_->GetTrend(Context("").get(), {}, &trend).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ListAlertsResponse alerts;
  EXPECT_EQ(stub_->ListAlerts(Context("").get(), {}, &alerts).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::Consistency consistency;
  EXPECT_EQ(
      stub_->GetConsistency(Context("").get(), {}, &consistency).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  v1::JourneyMap map;
  EXPECT_EQ(stub_->GetJourneyMap(Context("").get(), {}, &map).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto context = Context("");
  auto watch = stub_->WatchAlerts(context.get(), {});
  v1::AlertUpdate update;
  EXPECT_FALSE(watch->Read(&update));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  context = Context("");
  auto live = stub_->WatchScorecard(context.get(), Switching());
  v1::Scorecard card;
  EXPECT_FALSE(live->Read(&card));
  EXPECT_EQ(live->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(MonitoringServiceTest, BadInputNamesTheFieldAndUnknownJourneysAreNotFound) {
  v1::GetTrendRequest trend_request;
  trend_request.mutable_scope()->set_journey("switching");
  v1::Trend trend;
  grpc::Status status = stub_->GetTrend(Context("acme").get(), trend_request, &trend);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("metric"));

  v1::GetJourneyMapRequest map_request;
  v1::JourneyMap map;
  status = stub_->GetJourneyMap(Context("acme").get(), map_request, &map);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("journey"));
  map_request.set_journey("nowhere");
  status = stub_->GetJourneyMap(Context("acme").get(), map_request, &map);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  // Another tenant's journey of the same key is unknown too.
  map_request.set_journey("switching");
  status = stub_->GetJourneyMap(Context("globex").get(), map_request, &map);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  status = stub_->GetJourneyMap(Context("acme").get(), map_request, &map);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(map.cells_size(), 1);

  v1::GetConsistencyRequest consistency_request;
  consistency_request.set_journey("nowhere");
  v1::Consistency consistency;
  status = stub_->GetConsistency(Context("acme").get(), consistency_request,
                                 &consistency);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ListAlertsRequest list;
  list.set_page_size(-1);
  v1::ListAlertsResponse alerts;
  status = stub_->ListAlerts(Context("acme").get(), list, &alerts);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));
  list.set_page_size(0);
  list.set_page_token("garbage");
  status = stub_->ListAlerts(Context("acme").get(), list, &alerts);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(MonitoringServiceTest, ListAlertsPagesNewestFirst) {
  ASSERT_TRUE(store_
                  .SaveAlerts("acme", {MakeAlert("a", 100), MakeAlert("b", 300),
                                       MakeAlert("c", 200),
                                       MakeAlert("d", 400, v1::CLEARED),
                                       MakeAlert("e", 200)})
                  .ok());
  ASSERT_TRUE(store_.SaveAlerts("globex", {MakeAlert("x", 500)}).ok());
  std::vector<std::string> ids;
  v1::ListAlertsRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    v1::ListAlertsResponse page;
    grpc::Status status = stub_->ListAlerts(Context("acme").get(), request, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const v1::Alert& alert : page.alerts()) ids.push_back(alert.id());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_THAT(ids, ::testing::ElementsAre("b", "c", "e", "a"));
  EXPECT_EQ(pages, 2);

  request = v1::ListAlertsRequest();
  request.set_include_cleared(true);
  v1::ListAlertsResponse all;
  ASSERT_TRUE(stub_->ListAlerts(Context("acme").get(), request, &all).ok());
  ASSERT_EQ(all.alerts_size(), 5);
  EXPECT_EQ(all.alerts(0).id(), "d");
  EXPECT_TRUE(all.next_page_token().empty());
}

TEST_F(MonitoringServiceTest, WatchAlertsSendsOpenAlertsThenChangesUntilDrain) {
  ASSERT_TRUE(store_.SaveAlerts("acme", {MakeAlert("old", 100)}).ok());
  auto context = Context("acme");
  v1::WatchAlertsRequest request;
  request.set_journey("switching");
  auto watch = stub_->WatchAlerts(context.get(), request);
  v1::AlertUpdate update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_TRUE(update.initial());
  EXPECT_EQ(update.alert().id(), "old");

  // Another tenant's and another journey's alerts are not sent.
  service_.AlertChanged("globex", MakeAlert("theirs", 1));
  v1::Alert elsewhere = MakeAlert("elsewhere", 1);
  elsewhere.set_journey("other");
  service_.AlertChanged("acme", elsewhere);
  // A real change: CSAT falls from 80 % to 40 % (70 answers per window).
  for (int day = 0; day < 14; ++day) {
    for (int i = 0; i < 10; ++i) Add(day, i < (day < 7 ? 8 : 4) ? 5 : 2);
  }
  ASSERT_TRUE(monitor_.Evaluate("acme", "switching").ok());
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_FALSE(update.initial());
  EXPECT_EQ(update.alert().journey(), "switching");
  EXPECT_EQ(update.alert().state(), v1::OPEN);
  EXPECT_TRUE(update.alert().worse());

  service_.EndStreams();  // as on_drain does
  while (watch->Read(&update)) {
  }
  const grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ended.error_message(), "server shutting down; watch again");
}

TEST_F(MonitoringServiceTest, WatchScorecardPushesNewEventsWithinASecond) {
  Add(0, 5);
  auto context = Context("acme");
  auto live = stub_->WatchScorecard(context.get(), Switching());
  v1::Scorecard card;
  ASSERT_TRUE(live->Read(&card));
  EXPECT_EQ(card.total().events(), 1);
  EXPECT_EQ(card.as_of_sequence(), 1);

  // Another journey's events change nothing here: the next card is ours.
  Add(0, 5, "other");
  service_.FeedApplied({.journeys = {{"acme", "other"}}, .sequence = 2});
  const absl::Time applied = absl::Now();
  Add(0, 1);
  service_.FeedApplied({.journeys = {{"acme", "switching"}}, .sequence = 3});
  ASSERT_TRUE(live->Read(&card));
  EXPECT_LT(absl::Now() - applied, absl::Seconds(1));
  EXPECT_EQ(card.total().events(), 2);
  EXPECT_EQ(card.as_of_sequence(), 3);

  // A burst of pages: at most one card per interval, the last one right.
  for (int i = 0; i < 20; ++i) {
    Add(0, 4);
    service_.FeedApplied({.journeys = {{"acme", "switching"}},
                          .sequence = sequence_});
  }
  int cards = 0;
  while (card.total().events() < 22 && live->Read(&card)) ++cards;
  EXPECT_EQ(card.total().events(), 22);
  EXPECT_LE(cards, 20);

  service_.EndStreams();
  while (live->Read(&card)) {
  }
  EXPECT_EQ(live->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The server forgets the stream once gRPC is done with it (just after the
  // client sees the end).
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (service_.open_streams() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(service_.open_streams(), 0);
}

}  // namespace
}  // namespace polku::insight
