#include "services/insight/insight_service.h"

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
#include "services/insight/rollup_test_util.h"
#include "services/insight/sqlite_rollup_store.h"

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
  InsightServiceImpl with_lineage(*store_, executor_, &lineage);
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

}  // namespace
}  // namespace polku::insight
