// polku-journey on PostgreSQL as a real rpc::Server: two replicas on one
// database, where a WatchJourneys subscriber of one sees what is published
// and archived through the other; and a replica whose database goes away.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "lib/postgres/testing/test_server.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/server.h"
#include "services/journey/journey_service.h"
#include "services/journey/pg_journey_store.h"
#include "services/journey/store_test_backends.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::polku::v1::JourneyService;
using ::polku::v1::WatchJourneysResponse;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Journey MakeJourney(const std::string& key, const std::string& name) {
  Journey journey;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        stages { key: "purchase" name: "Purchase" }
        touchpoints {
          key: "shop_visit"
          name: "Shop visit"
          stage: "purchase"
          channel: "shop"
          kind: INTERACTION
        }
      )pb",
      &journey);
  journey.set_key(key);
  journey.set_name(name);
  return journey;
}

std::vector<std::string> Seen(const WatchJourneysResponse& message) {
  std::vector<std::string> seen;
  for (const auto& published : message.journeys()) {
    seen.push_back(absl::StrCat(published.tenant(), "/",
                                published.journey().key(), "@",
                                published.journey().version()));
  }
  return seen;
}

// A call as the gateway makes it for `tenant` ("" = service-to-service).
std::unique_ptr<grpc::ClientContext> As(const std::string& tenant) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
  rpc::AttachCaller({.tenant = tenant}, *context);
  return context;
}

// One polku-journey process: store, service, server, and a client of it.
struct Replica {
  std::unique_ptr<JourneyStore> store;
  std::unique_ptr<JourneyServiceImpl> service;
  std::unique_ptr<rpc::Server> server;
  std::unique_ptr<JourneyService::Stub> stub;

  ~Replica() {
    if (server != nullptr) server->Shutdown();
  }

  grpc::Status Create(const std::string& tenant, const std::string& key) {
    polku::v1::CreateJourneyRequest request;
    *request.mutable_journey() = MakeJourney(key, "Journey");
    Journey response;
    return stub->CreateJourney(As(tenant).get(), request, &response);
  }
  grpc::Status Publish(const std::string& tenant, const std::string& key) {
    polku::v1::PublishJourneyRequest request;
    request.set_key(key);
    Journey response;
    return stub->PublishJourney(As(tenant).get(), request, &response);
  }
  grpc::Status Archive(const std::string& tenant, const std::string& key) {
    polku::v1::ArchiveJourneyRequest request;
    request.set_key(key);
    Journey response;
    return stub->ArchiveJourney(As(tenant).get(), request, &response);
  }
};

class JourneyReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = testing::PostgresBackend::Create();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    for (Replica* replica : {&a_, &b_}) StartReplica(*replica);
  }

  void StartReplica(Replica& replica) {
    auto store = backend_->Open(Clock::Real());
    ASSERT_TRUE(store.ok()) << store.status();
    replica.store = *std::move(store);
    JourneyServiceImpl::Options options;
    options.watch_poll_interval = absl::Milliseconds(20);
    replica.service =
        std::make_unique<JourneyServiceImpl>(*replica.store, options);
    JourneyServiceImpl* service = replica.service.get();
    auto server = rpc::Server::Start(
        {.name = "polku-journey-replica",
         .listen_address = "127.0.0.1:0",
         .services = {service},
         .log_requests = false,
         .on_drain = [service] { service->CloseWatchers(); }});
    ASSERT_TRUE(server.ok()) << server.status();
    replica.server = *std::move(server);
    replica.stub = JourneyService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", replica.server->port()),
                            grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<testing::PostgresBackend> backend_;
  Replica a_;
  Replica b_;
};

TEST_F(JourneyReplicasTest, WatchersOfOneReplicaSeeChangesMadeThroughTheOther) {
  ASSERT_TRUE(a_.Create("demo", "before").ok());
  ASSERT_TRUE(a_.Publish("demo", "before").ok());

  auto on_b_context = As("");
  auto on_b = b_.stub->WatchJourneys(on_b_context.get(), {});
  auto on_a_context = As("demo");
  auto on_a = a_.stub->WatchJourneys(on_a_context.get(), {});
  WatchJourneysResponse message;
  ASSERT_TRUE(on_b->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/before@1"));
  ASSERT_TRUE(on_a->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("demo/before@1"));

  // Published through A: B's subscriber gets it as an update.
  ASSERT_TRUE(a_.Create("demo", "new").ok());
  ASSERT_TRUE(a_.Publish("demo", "new").ok());
  ASSERT_TRUE(on_b->Read(&message));
  EXPECT_FALSE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/new@1"));
  EXPECT_EQ(message.journeys(0).journey().touchpoints(0).key(), "shop_visit");
  // A's own subscriber got it once, straight away (the poll finds nothing
  // more to tell it).
  ASSERT_TRUE(on_a->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("demo/new@1"));

  // Published through B, of another tenant: B's internal subscriber sees it,
  // A's tenant subscriber does not.
  ASSERT_TRUE(b_.Create("other", "theirs").ok());
  ASSERT_TRUE(b_.Publish("other", "theirs").ok());
  ASSERT_TRUE(on_b->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("other/theirs@1"));

  // Archived through A: B's subscriber gets a snapshot without it.
  ASSERT_TRUE(a_.Archive("demo", "before").ok());
  ASSERT_TRUE(on_b->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/new@1", "other/theirs@1"));
  ASSERT_TRUE(on_a->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/new@1"));

  b_.service->CloseWatchers();
  EXPECT_FALSE(on_b->Read(&message));
  EXPECT_EQ(on_b->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  a_.service->CloseWatchers();
  EXPECT_FALSE(on_a->Read(&message));
  EXPECT_EQ(on_a->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A subscriber that joins B after a publish through A gets it in its
// snapshot, and B's older subscribers get it as an update, before or at the
// latest with the next poll: nobody holds a stale state.
TEST_F(JourneyReplicasTest,
       ASnapshotOnOneReplicaNeverLeavesOlderSubscribersBehind) {
  auto first_context = As("");
  auto first = b_.stub->WatchJourneys(first_context.get(), {});
  WatchJourneysResponse message;
  ASSERT_TRUE(first->Read(&message));
  EXPECT_THAT(Seen(message), IsEmpty());

  ASSERT_TRUE(a_.Create("demo", "j").ok());
  ASSERT_TRUE(a_.Publish("demo", "j").ok());
  auto second_context = As("");
  auto second = b_.stub->WatchJourneys(second_context.get(), {});
  ASSERT_TRUE(second->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/j@1"));
  ASSERT_TRUE(first->Read(&message));
  EXPECT_FALSE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/j@1"));

  b_.service->CloseWatchers();
  EXPECT_FALSE(first->Read(&message));
  EXPECT_FALSE(second->Read(&message));
  (void)first->Finish();
  (void)second->Finish();
}

// The database goes away under a running replica: calls fail UNAVAILABLE
// with a message, watch streams stay open, and once it is back both recover
// without a restart, having lost nothing acknowledged.
TEST(JourneyOutageTest, CallsFailUnavailableThenRecoverByThemselves) {
  // A server of its own: this test stops it.
  auto server = postgres::TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("journeys").ok());
  auto store = PgJourneyStore::Open((*server)->Url("journeys"), Clock::Real());
  ASSERT_TRUE(store.ok()) << store.status();
  Replica replica;
  replica.store = *std::move(store);
  JourneyServiceImpl::Options options;
  options.watch_poll_interval = absl::Milliseconds(20);
  replica.service =
      std::make_unique<JourneyServiceImpl>(*replica.store, options);
  JourneyServiceImpl* service = replica.service.get();
  auto started =
      rpc::Server::Start({.name = "polku-journey-outage",
                          .listen_address = "127.0.0.1:0",
                          .services = {service},
                          .log_requests = false,
                          .on_drain = [service] { service->CloseWatchers(); }});
  ASSERT_TRUE(started.ok()) << started.status();
  replica.server = *std::move(started);
  replica.stub = JourneyService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", replica.server->port()),
                          grpc::InsecureChannelCredentials()));

  ASSERT_TRUE(replica.Create("demo", "before").ok());
  ASSERT_TRUE(replica.Publish("demo", "before").ok());
  auto watch_context = As("");
  auto watch = replica.stub->WatchJourneys(watch_context.get(), {});
  WatchJourneysResponse message;
  ASSERT_TRUE(watch->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("demo/before@1"));

  ASSERT_TRUE((*server)->Kill().ok());
  grpc::Status down = replica.Create("demo", "during");
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(down.error_message(),
              ::testing::HasSubstr("journey database is unavailable"));
  Journey journey;
  polku::v1::GetJourneyRequest get;
  get.set_key("before");
  EXPECT_EQ(
      replica.stub->GetJourney(As("demo").get(), get, &journey).error_code(),
      grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE((*server)->Restart().ok());
  grpc::Status got = replica.stub->GetJourney(As("demo").get(), get, &journey);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(journey.version(), 1);
  ASSERT_TRUE(replica.Create("demo", "after").ok());
  ASSERT_TRUE(replica.Publish("demo", "after").ok());
  // The stream opened before the outage still delivers.
  ASSERT_TRUE(watch->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("demo/after@1"));

  service->CloseWatchers();
  EXPECT_FALSE(watch->Read(&message));
  (void)watch->Finish();
}

}  // namespace
}  // namespace polku::journey
