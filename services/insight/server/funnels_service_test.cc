// FunnelsService over gRPC on every backend: the caller's tenant only, an
// erased customer gone from the funnel, errors naming the field.
#include "services/insight/server/funnels_service.h"

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
#include "lib/base/clock.h"
#include "lib/rpc/metadata.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/store/rollup_conformance_util.h"

namespace polku::insight {
namespace {

using ::testing::HasSubstr;
using testing::Backend;
using testing::MakeEvent;

constexpr int64_t kDay = 86'400;

class OneJourney : public JourneySource {
 public:
  absl::StatusOr<v1::Journey> Journey(absl::string_view tenant,
                                      absl::string_view key,
                                      int32_t) override {
    if (key != "switching" || (tenant != "acme" && tenant != "globex")) {
      return absl::NotFoundError(absl::StrCat("journey ", key, " not found"));
    }
    v1::Journey journey;
    journey.set_key("switching");
    journey.set_version(1);
    for (const char* stage : {"research", "purchase", "use"}) {
      journey.add_stages()->set_key(stage);
    }
    journey.mutable_stages(2)->set_name("Use");
    return journey;
  }
};

class FunnelsServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = testing::TestDatabase::Create(GetParam());
    ASSERT_NE(db_, nullptr);
    store_ = db_->Open();
    // acme: c1 research → purchase → use; c2 research → purchase; c3
    // research only, rated; c4 research → purchase, erased below.
    // globex: g1 research → purchase → use.
    int64_t sequence = 0;
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    auto add = [&](const std::string& tenant, const std::string& customer,
                   const std::string& stage, int64_t day,
                   std::optional<int> csat = std::nullopt) {
      *page.Add() = MakeEvent({.sequence = ++sequence,
                               .tenant = tenant,
                               .touchpoint = stage + "_tp",
                               .stage = stage,
                               .offset_seconds = day * kDay,
                               .csat = csat,
                               .customer_hash = customer});
    };
    add("acme", "c1", "research", 0);
    add("acme", "c1", "purchase", 2);
    add("acme", "c1", "use", 3);
    add("acme", "c2", "research", 1);
    add("acme", "c2", "purchase", 5);
    add("acme", "c3", "research", 1, 4);
    add("acme", "c4", "research", 0);
    add("acme", "c4", "purchase", 1);
    add("globex", "g1", "research", 0);
    add("globex", "g1", "purchase", 1);
    add("globex", "g1", "use", 1);
    ASSERT_TRUE(store_->Apply(page).ok());
    v1::Erasure erasure;
    erasure.set_sequence(++sequence);
    erasure.set_tenant("acme");
    erasure.set_customer_hash("c4");
    ASSERT_TRUE(store_->ApplyErasure(erasure).ok());

    touches_ = std::make_unique<TouchIndex>(*store_, *store_);
    service_ = std::make_unique<FunnelsServiceImpl>(
        *store_, executor_,
        FunnelsServiceImpl::Options{.journeys = &journeys_,
                                    .clock = &clock_,
                                    .touches = touches_.get()});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::FunnelsService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status GetFunnel(const std::string& tenant,
                         const v1::GetFunnelRequest& request,
                         v1::Funnel& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    if (!tenant.empty()) context.AddMetadata(rpc::kTenantHeader, tenant);
    return stub_->GetFunnel(&context, request, &response);
  }

  static v1::GetFunnelRequest Request() {
    v1::GetFunnelRequest request;
    request.mutable_scope()->set_journey("switching");
    request.mutable_range()->mutable_start()->set_seconds(
        testing::kMarch1Seconds);
    request.set_conversion_window_seconds(7 * kDay);
    return request;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<RollupStore> store_;
  OneJourney journeys_;
  // 2024-03-05: c2's and c3's windows have not passed.
  FakeClock clock_{absl::FromUnixSeconds(testing::kMarch1Seconds + 4 * kDay)};
  Executor executor_{2};
  std::unique_ptr<TouchIndex> touches_;
  std::unique_ptr<FunnelsServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::FunnelsService::Stub> stub_;
};

TEST_P(FunnelsServiceTest, AnswersTheCallersFunnelWithoutTheErasedCustomer) {
  v1::Funnel funnel;
  grpc::Status status = GetFunnel("acme", Request(), funnel);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // As of day 4 (now): c1 done; c2 still in research's window (its purchase
  // on day 5 lies after now); c3 in progress too; c4 erased.
  EXPECT_EQ(funnel.customers(), 3);
  ASSERT_EQ(funnel.stages_size(), 3);
  EXPECT_EQ(funnel.stages(0).reached(), 3);
  EXPECT_EQ(funnel.stages(0).in_progress(), 2);
  EXPECT_EQ(funnel.stages(0).dropped(), 0);
  EXPECT_EQ(funnel.stages(0).responded(), 1);
  EXPECT_EQ(funnel.stages(1).reached(), 1);
  EXPECT_EQ(funnel.stages(2).reached(), 1);
  EXPECT_EQ(funnel.stages(2).name(), "Use");
  EXPECT_EQ(funnel.in_progress(), 2);
  EXPECT_EQ(funnel.as_of().seconds(), testing::kMarch1Seconds + 4 * kDay);
  EXPECT_TRUE(funnel.stages(1).from_previous().estimated());
  EXPECT_EQ(funnel.as_of_sequence(), 12);
  for (const v1::FunnelStage& stage : funnel.stages()) {
    for (const v1::LastTouchpoint& last : stage.last_touchpoints()) {
      EXPECT_NE(last.touchpoint(), "c4");
    }
  }

  // Later, with every window passed: c2 went on (day 5), c3 dropped.
  clock_.Advance(absl::Hours(24 * 30));
  ASSERT_TRUE(GetFunnel("acme", Request(), funnel).ok());
  EXPECT_EQ(funnel.stages(0).dropped(), 1);
  EXPECT_EQ(funnel.stages(1).reached(), 2);
  EXPECT_EQ(funnel.stages(1).dropped(), 1);
  EXPECT_EQ(funnel.in_progress(), 0);
  EXPECT_EQ(funnel.stages(0).time_to_next().customers(), 2);
}

TEST_P(FunnelsServiceTest, PathsOfTheCallersCustomersOnly) {
  v1::GetPathsRequest request;
  *request.mutable_scope() = Request().scope();
  *request.mutable_range() = Request().range();
  v1::Paths paths;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  context.AddMetadata(rpc::kTenantHeader, "acme");
  grpc::Status status = stub_->GetPaths(&context, request, &paths);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // c1, c2, c3 (c4 erased; globex's g1 not theirs).
  EXPECT_EQ(paths.customers(), 3);
  ASSERT_GE(paths.stage_paths_size(), 1);
  // As of day 4: research only (c2, whose purchase on day 5 lies ahead,
  // and c3), then c1's research → purchase → use.
  ASSERT_EQ(paths.stage_paths_size(), 2);
  EXPECT_EQ(paths.stage_paths(0).customers(), 2);
  EXPECT_EQ(paths.stage_paths(0).steps_size(), 1);
  EXPECT_EQ(paths.stage_paths(1).steps_size(), 3);
  int64_t total = 0;
  for (const v1::PathCount& path : paths.stage_paths()) total += path.customers();
  EXPECT_EQ(total, 3);
  EXPECT_EQ(paths.switchers(), 0);  // all on the web

  grpc::ClientContext none;
  none.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  EXPECT_EQ(stub_->GetPaths(&none, request, &paths).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// The service answers from the in-memory touch index: after new events and after
// an erasure it says exactly what a fresh read of the ledger says.
TEST_P(FunnelsServiceTest, TheIndexFollowsNewEventsAndErasures) {
  clock_.Advance(absl::Hours(24 * 30));
  auto same_as_ledger = [&](const std::string& when) {
    v1::Funnel served;
    ASSERT_TRUE(GetFunnel("acme", Request(), served).ok());
    absl::StatusOr<v1::Funnel> direct = ComputeFunnel(
        *store_, "acme", Request(), *journeys_.Journey("acme", "switching", 0),
        clock_.Now());
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(served.SerializeAsString(), direct->SerializeAsString())
        << when << "\nserved " << served.ShortDebugString()
        << "\nledger " << direct->ShortDebugString();
  };
  same_as_ledger("first call");
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  *page.Add() = MakeEvent({.sequence = 13, .tenant = "acme",
                           .touchpoint = "use_tp", .stage = "use",
                           .offset_seconds = 9 * kDay, .customer_hash = "c2"});
  *page.Add() = MakeEvent({.sequence = 14, .tenant = "acme",
                           .touchpoint = "research_tp", .stage = "research",
                           .offset_seconds = 2 * kDay, .customer_hash = "c5"});
  ASSERT_TRUE(store_->Apply(page).ok());
  same_as_ledger("after new events");
  v1::Funnel funnel;
  ASSERT_TRUE(GetFunnel("acme", Request(), funnel).ok());
  EXPECT_EQ(funnel.customers(), 4);
  EXPECT_EQ(funnel.stages(2).reached(), 2);
  v1::Erasure erasure;
  erasure.set_sequence(15);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("c1");
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  same_as_ledger("after an erasure");
  ASSERT_TRUE(GetFunnel("acme", Request(), funnel).ok());
  EXPECT_EQ(funnel.customers(), 3);
  EXPECT_EQ(funnel.as_of_sequence(), 15);
}

TEST_P(FunnelsServiceTest, AnotherTenantGetsNothingOfIt) {
  v1::Funnel funnel;
  ASSERT_TRUE(GetFunnel("globex", Request(), funnel).ok());
  EXPECT_EQ(funnel.customers(), 1);
  EXPECT_EQ(funnel.stages(2).reached(), 1);
  // A tenant without the journey: NOT_FOUND, nothing else.
  grpc::Status status = GetFunnel("initech", Request(), funnel);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(FunnelsServiceTest, WithoutTenantIsUnauthenticated) {
  v1::Funnel funnel;
  EXPECT_EQ(GetFunnel("", Request(), funnel).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_P(FunnelsServiceTest, BadInputIsInvalidArgumentNamingTheField) {
  v1::Funnel funnel;
  v1::GetFunnelRequest request = Request();
  request.mutable_scope()->clear_journey();
  grpc::Status status = GetFunnel("acme", request, funnel);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("scope.journey"));
  request = Request();
  request.set_conversion_window_seconds(400 * kDay);
  status = GetFunnel("acme", request, funnel);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("conversion_window_seconds"));
}

INSTANTIATE_TEST_SUITE_P(Backends, FunnelsServiceTest, testing::AllBackends(),
                         testing::BackendName);

}  // namespace
}  // namespace polku::insight
