// GrpcJourneyLineage against the real JourneyService: the rename chain the
// journey service records at publish is what insight reads.
#include "services/insight/server/journey_lineage.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/server.h"
#include "services/journey/journey_service.h"
#include "services/journey/sqlite_journey_store.h"

namespace polku::insight {
namespace {

using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(JourneyLineageTest, RenameChainFromTheJourneyService) {
  sqlite::Database::Options options;
  options.durable = false;
  auto store =
      journey::SqliteJourneyStore::Open(":memory:", Clock::Real(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  journey::JourneyServiceImpl service(**store);
  auto server =
      rpc::Server::Start({.name = "polku-journey-test",
                          .listen_address = "127.0.0.1:0",
                          .services = {&service},
                          .log_requests = false,
                          .on_drain = [&] { service.CloseWatchers(); }});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials());
  auto stub = v1::JourneyService::NewStub(channel);
  auto as_acme = [] {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    rpc::AttachCaller({.tenant = "acme"}, *context);
    return context;
  };

  v1::CreateJourneyRequest create;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(journey {
             key: "switching"
             name: "Switching"
             stages { key: "buy" name: "Buy" }
             touchpoints {
               key: "quote"
               name: "Quote"
               stage: "buy"
               channel: "web"
               kind: INTERACTION
             }
           })pb",
      &create));
  v1::Journey journey;
  ASSERT_TRUE(stub->CreateJourney(as_acme().get(), create, &journey).ok());
  v1::PublishJourneyRequest publish;
  publish.set_key("switching");
  ASSERT_TRUE(stub->PublishJourney(as_acme().get(), publish, &journey).ok());

  GrpcJourneyLineage lineage(channel);
  auto successors = lineage.Successors("acme", "switching");
  ASSERT_TRUE(successors.ok()) << successors.status();
  EXPECT_THAT(*successors, IsEmpty());

  // quote → offer (v2) → proposal (v3).
  for (const char* next : {"offer", "proposal"}) {
    v1::UpdateDraftRequest update;
    *update.mutable_journey() = create.journey();
    update.mutable_journey()->mutable_touchpoints(0)->set_replaces(
        journey.touchpoints(0).key());
    update.mutable_journey()->mutable_touchpoints(0)->set_key(next);
    ASSERT_TRUE(stub->UpdateDraft(as_acme().get(), update, &journey).ok());
    grpc::Status status =
        stub->PublishJourney(as_acme().get(), publish, &journey);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  successors = lineage.Successors("acme", "switching");
  ASSERT_TRUE(successors.ok()) << successors.status();
  EXPECT_THAT(*successors, UnorderedElementsAre(Pair("quote", "proposal"),
                                                Pair("offer", "proposal")));
  // Another tenant's or an unknown journey: nothing renamed.
  successors = lineage.Successors("globex", "switching");
  ASSERT_TRUE(successors.ok()) << successors.status();
  EXPECT_THAT(*successors, IsEmpty());

  (*server)->Shutdown();
  GrpcJourneyLineage down(channel, absl::Milliseconds(300));
  EXPECT_FALSE(down.Successors("acme", "switching").ok());
}

}  // namespace
}  // namespace polku::insight
