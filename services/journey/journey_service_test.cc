// JourneyServiceImpl on a real rpc::Server over loopback: what a gateway or
// a feedback replica would see.
#include "services/journey/journey_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/server.h"
#include "services/journey/sqlite_journey_store.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::polku::v1::JourneyService;
using ::polku::v1::WatchJourneysResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Journey MakeJourney(const std::string& key) {
  Journey journey;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        name: "Switching mobile operator"
        stages { key: "research" name: "Research" }
        stages { key: "purchase" name: "Purchase" }
        touchpoints {
          key: "search_ad"
          name: "Search ad"
          stage: "research"
          channel: "web"
          kind: INTERACTION
        }
        touchpoints {
          key: "shop_in_shop_sales"
          name: "Shop-in-shop seller"
          stage: "purchase"
          channel: "shop"
          kind: INTERACTION
        }
      )pb",
      &journey);
  journey.set_key(key);
  return journey;
}

class JourneyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite::Database::Options options;
    options.durable = false;
    auto store = SqliteJourneyStore::Open(":memory:", Clock::Real(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<JourneyServiceImpl>(*store_);
    auto server =
        rpc::Server::Start({.name = "polku-journey-test",
                            .listen_address = "127.0.0.1:0",
                            .services = {service_.get()},
                            .log_requests = false,
                            .on_drain = [this] { service_->CloseWatchers(); }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = JourneyService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A call as the gateway makes it for `tenant` ("" = service-to-service).
  static std::unique_ptr<grpc::ClientContext> As(const std::string& tenant) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    rpc::AttachCaller({.tenant = tenant}, *context);
    return context;
  }

  grpc::Status Create(const std::string& tenant, const Journey& journey,
                      Journey* created = nullptr) {
    polku::v1::CreateJourneyRequest request;
    *request.mutable_journey() = journey;
    Journey response;
    grpc::Status status = stub_->CreateJourney(As(tenant).get(), request,
                                               created ? created : &response);
    return status;
  }

  grpc::Status Publish(const std::string& tenant, const std::string& key,
                       Journey* published = nullptr) {
    polku::v1::PublishJourneyRequest request;
    request.set_key(key);
    Journey response;
    return stub_->PublishJourney(As(tenant).get(), request,
                                 published ? published : &response);
  }

  grpc::Status Get(const std::string& tenant, const std::string& key,
                   int version, Journey* journey) {
    polku::v1::GetJourneyRequest request;
    request.set_key(key);
    request.set_version(version);
    return stub_->GetJourney(As(tenant).get(), request, journey);
  }

  std::unique_ptr<SqliteJourneyStore> store_;
  std::unique_ptr<JourneyServiceImpl> service_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<JourneyService::Stub> stub_;
};

TEST_F(JourneyServiceTest, EveryUnaryMethodNeedsATenant) {
  Journey journey;
  EXPECT_EQ(Create("", MakeJourney("a")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Publish("", "a").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Get("", "a", 0, &journey).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  polku::v1::ListJourneysResponse list;
  EXPECT_EQ(stub_->ListJourneys(As("").get(), {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  polku::v1::ListChannelsResponse channels;
  EXPECT_EQ(stub_->ListChannels(As("").get(), {}, &channels).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(JourneyServiceTest, CreatePublishGet) {
  Journey created;
  ASSERT_TRUE(
      Create("demo", MakeJourney("switching-mobile-operator"), &created).ok());
  EXPECT_EQ(created.version(), 0);
  EXPECT_EQ(created.state(), polku::v1::DRAFT);

  Journey draft;
  ASSERT_TRUE(Get("demo", "switching-mobile-operator", 0, &draft).ok());
  EXPECT_EQ(draft.state(), polku::v1::DRAFT);

  Journey published;
  grpc::Status status =
      Publish("demo", "switching-mobile-operator", &published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(published.version(), 1);
  EXPECT_EQ(published.state(), polku::v1::PUBLISHED);
  EXPECT_TRUE(published.has_publish_time());

  Journey latest;
  ASSERT_TRUE(Get("demo", "switching-mobile-operator", 0, &latest).ok());
  EXPECT_EQ(latest.version(), 1);
  EXPECT_EQ(latest.touchpoints_size(), 2);

  status = Publish("demo", "switching-mobile-operator");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("unchanged since version 1"));
}

TEST_F(JourneyServiceTest, BadInputNamesTheField) {
  Journey journey = MakeJourney("a");
  journey.mutable_touchpoints(1)->set_stage("checkout");
  grpc::Status status = Create("demo", journey);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("journey.touchpoints[1].stage: unknown stage"));

  Journey out;
  status = Get("demo", "Not A Key", 0, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("key:"));

  polku::v1::ListJourneysRequest list;
  list.set_page_token("garbage!");
  polku::v1::ListJourneysResponse response;
  status = stub_->ListJourneys(As("demo").get(), list, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(JourneyServiceTest, TenantsAreIsolated) {
  ASSERT_TRUE(Create("tenant-a", MakeJourney("private")).ok());
  ASSERT_TRUE(Publish("tenant-a", "private").ok());

  Journey journey;
  EXPECT_EQ(Get("tenant-b", "private", 0, &journey).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Publish("tenant-b", "private").error_code(),
            grpc::StatusCode::NOT_FOUND);
  polku::v1::ListJourneysResponse list;
  ASSERT_TRUE(stub_->ListJourneys(As("tenant-b").get(), {}, &list).ok());
  EXPECT_EQ(list.journeys_size(), 0);
  ASSERT_TRUE(stub_->ListJourneys(As("tenant-a").get(), {}, &list).ok());
  EXPECT_EQ(list.journeys_size(), 1);
}

TEST_F(JourneyServiceTest, ListChannelsReturnsTheCatalogue) {
  polku::v1::ListChannelsResponse response;
  ASSERT_TRUE(stub_->ListChannels(As("demo").get(), {}, &response).ok());
  std::vector<std::string> keys;
  for (const auto& channel : response.channels()) keys.push_back(channel.key());
  EXPECT_THAT(keys,
              ::testing::IsSupersetOf({"shop", "phone", "web", "email",
                                       "field_service", "tv", "outdoor"}));
}

// Keys of the journeys in a watch message, as "tenant/key@version".
std::vector<std::string> Seen(const WatchJourneysResponse& message) {
  std::vector<std::string> seen;
  for (const auto& published : message.journeys()) {
    seen.push_back(absl::StrCat(published.tenant(), "/",
                                published.journey().key(), "@",
                                published.journey().version()));
  }
  return seen;
}

TEST_F(JourneyServiceTest, WatchSendsSnapshotThenEachPublish) {
  ASSERT_TRUE(Create("tenant-a", MakeJourney("home-renovation")).ok());
  ASSERT_TRUE(Publish("tenant-a", "home-renovation").ok());
  ASSERT_TRUE(Create("tenant-b", MakeJourney("other")).ok());
  ASSERT_TRUE(Publish("tenant-b", "other").ok());
  // A draft is not part of what feedback validates against.
  ASSERT_TRUE(Create("tenant-a", MakeJourney("unpublished")).ok());

  // Deadlines bound every blocking Read below.
  auto internal_context = As("");
  auto internal = stub_->WatchJourneys(internal_context.get(), {});
  auto tenant_context = As("tenant-a");
  auto tenant = stub_->WatchJourneys(tenant_context.get(), {});

  WatchJourneysResponse message;
  ASSERT_TRUE(internal->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(
      Seen(message),
      ::testing::ElementsAre("tenant-a/home-renovation@1", "tenant-b/other@1"));
  ASSERT_TRUE(tenant->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message),
              ::testing::ElementsAre("tenant-a/home-renovation@1"));

  // Tenant B's publish reaches only the internal watcher; tenant A's both.
  ASSERT_TRUE(Create("tenant-b", MakeJourney("second")).ok());
  ASSERT_TRUE(Publish("tenant-b", "second").ok());
  ASSERT_TRUE(Publish("tenant-a", "unpublished").ok());

  ASSERT_TRUE(internal->Read(&message));
  EXPECT_FALSE(message.reset());
  EXPECT_THAT(Seen(message), ::testing::ElementsAre("tenant-b/second@1"));
  ASSERT_TRUE(internal->Read(&message));
  EXPECT_THAT(Seen(message), ::testing::ElementsAre("tenant-a/unpublished@1"));
  EXPECT_EQ(message.journeys(0).journey().touchpoints_size(), 2);

  ASSERT_TRUE(tenant->Read(&message));
  EXPECT_FALSE(message.reset());
  EXPECT_THAT(Seen(message), ::testing::ElementsAre("tenant-a/unpublished@1"));

  // Shutting down ends the streams so that the drain does not wait for them.
  service_->CloseWatchers();
  EXPECT_FALSE(internal->Read(&message));
  EXPECT_EQ(internal->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(tenant->Read(&message));
  EXPECT_EQ(tenant->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// polku-feedback validates back-filled history against older versions: it
// asks for every version, and only it gets them.
TEST_F(JourneyServiceTest, WatchWithAllVersionsSendsEveryPublishedVersion) {
  ASSERT_TRUE(Create("tenant-a", MakeJourney("home-renovation")).ok());
  ASSERT_TRUE(Publish("tenant-a", "home-renovation").ok());
  Journey v2 = MakeJourney("home-renovation");
  v2.set_name("Second");
  polku::v1::UpdateDraftRequest update;
  *update.mutable_journey() = v2;
  Journey ignored;
  ASSERT_TRUE(stub_->UpdateDraft(As("tenant-a").get(), update, &ignored).ok());
  ASSERT_TRUE(Publish("tenant-a", "home-renovation").ok());
  ASSERT_TRUE(Create("tenant-b", MakeJourney("other")).ok());
  ASSERT_TRUE(Publish("tenant-b", "other").ok());

  auto all_context = As("");
  polku::v1::WatchJourneysRequest all_versions;
  all_versions.set_all_versions(true);
  auto all = stub_->WatchJourneys(all_context.get(), all_versions);
  auto latest_context = As("");
  auto latest = stub_->WatchJourneys(latest_context.get(), {});

  WatchJourneysResponse message;
  ASSERT_TRUE(all->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message),
              ElementsAre("tenant-a/home-renovation@1",
                          "tenant-a/home-renovation@2", "tenant-b/other@1"));
  EXPECT_EQ(message.journeys(1).journey().name(), "Second");
  ASSERT_TRUE(latest->Read(&message));
  EXPECT_THAT(Seen(message),
              ElementsAre("tenant-a/home-renovation@2", "tenant-b/other@1"));

  // An archive sends new snapshots, each of its kind.
  polku::v1::ArchiveJourneyRequest archive;
  archive.set_key("other");
  ASSERT_TRUE(
      stub_->ArchiveJourney(As("tenant-b").get(), archive, &ignored).ok());
  ASSERT_TRUE(all->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("tenant-a/home-renovation@1",
                                         "tenant-a/home-renovation@2"));
  ASSERT_TRUE(latest->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("tenant-a/home-renovation@2"));
  service_->CloseWatchers();
}

TEST_F(JourneyServiceTest, CancelledWatcherIsForgotten) {
  auto context = As("demo");
  auto watch = stub_->WatchJourneys(context.get(), {});
  WatchJourneysResponse message;
  ASSERT_TRUE(watch->Read(&message));
  EXPECT_EQ(service_->watcher_count(), 1u);
  context->TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // Publishing after the cancel must not touch the departed reactor (ASan
  // would catch it); the server removes it once gRPC reports the call done.
  ASSERT_TRUE(Create("demo", MakeJourney("after")).ok());
  ASSERT_TRUE(Publish("demo", "after").ok());
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service_->watcher_count() != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_EQ(service_->watcher_count(), 0u);
}

TEST_F(JourneyServiceTest, CreateFromATemplate) {
  polku::v1::CreateJourneyRequest request;
  request.set_template_("generic-customer-journey");
  request.mutable_journey()->set_key("our-journey");
  request.mutable_journey()->set_name("Our journey");
  Journey created;
  grpc::Status status =
      stub_->CreateJourney(As("demo").get(), request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.key(), "our-journey");
  EXPECT_EQ(created.name(), "Our journey");
  EXPECT_EQ(created.stages_size(), 8);
  EXPECT_EQ(created.outcomes().conversion_stage(), "purchase");
  EXPECT_EQ(created.state(), polku::v1::DRAFT);

  request.set_template_("no-such-template");
  request.mutable_journey()->set_key("other");
  status = stub_->CreateJourney(As("demo").get(), request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("template: no template"));
}

// The whole life of a map: publish, edit the draft with a mask, rename with
// `replaces`, publish v2, read versions, diff, copy v2 back into the draft.
TEST_F(JourneyServiceTest, DraftEditPublishDiff) {
  ASSERT_TRUE(Create("demo", MakeJourney("j")).ok());
  ASSERT_TRUE(Publish("demo", "j").ok());

  polku::v1::UpdateDraftRequest update;
  *update.mutable_journey() = MakeJourney("j");
  update.mutable_journey()->set_name("ignored: not in the mask");
  auto* renamed = update.mutable_journey()->mutable_touchpoints(1);
  renamed->set_key("store_seller");
  renamed->set_replaces("shop_in_shop_sales");
  renamed->mutable_target()->set_nps(30);
  update.mutable_update_mask()->add_paths("touchpoints");
  Journey draft;
  grpc::Status status = stub_->UpdateDraft(As("demo").get(), update, &draft);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(draft.name(), "Switching mobile operator");
  EXPECT_EQ(draft.touchpoints(1).key(), "store_seller");
  // The latest published version is untouched until the publish.
  Journey latest;
  ASSERT_TRUE(Get("demo", "j", 0, &latest).ok());
  EXPECT_EQ(latest.touchpoints(1).key(), "shop_in_shop_sales");

  Journey v2;
  status = Publish("demo", "j", &v2);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(v2.version(), 2);
  EXPECT_THAT(v2.touchpoints(1).former_keys(),
              ElementsAre("shop_in_shop_sales"));

  polku::v1::DiffJourneyVersionsRequest diff_request;
  diff_request.set_key("j");
  diff_request.set_from_version(1);
  diff_request.set_to_version(2);
  polku::v1::JourneyDiff diff;
  status = stub_->DiffJourneyVersions(As("demo").get(), diff_request, &diff);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(diff.changes_size(), 2);
  EXPECT_EQ(diff.changes(0).kind(), polku::v1::TOUCHPOINT_RENAMED);
  EXPECT_EQ(diff.changes(0).old_value(), "shop_in_shop_sales");
  EXPECT_EQ(diff.changes(1).kind(), polku::v1::TARGET_CHANGED);

  polku::v1::ListJourneyVersionsRequest list_request;
  list_request.set_key("j");
  list_request.set_page_size(1);
  polku::v1::ListJourneyVersionsResponse page;
  ASSERT_TRUE(
      stub_->ListJourneyVersions(As("demo").get(), list_request, &page).ok());
  ASSERT_EQ(page.versions_size(), 1);
  EXPECT_EQ(page.versions(0).version(), 1);
  list_request.set_page_token(page.next_page_token());
  ASSERT_TRUE(
      stub_->ListJourneyVersions(As("demo").get(), list_request, &page).ok());
  ASSERT_EQ(page.versions_size(), 1);
  EXPECT_EQ(page.versions(0).version(), 2);
  EXPECT_TRUE(page.next_page_token().empty());

  // Version 0 of GetJourneyVersion is the draft.
  polku::v1::GetJourneyVersionRequest get_draft;
  get_draft.set_key("j");
  Journey got;
  ASSERT_TRUE(stub_->GetJourneyVersion(As("demo").get(), get_draft, &got).ok());
  EXPECT_EQ(got.state(), polku::v1::DRAFT);

  // An edited draft is not silently thrown away by CreateDraft.
  update.clear_update_mask();
  update.mutable_journey()->set_name("Edited");
  ASSERT_TRUE(stub_->UpdateDraft(As("demo").get(), update, &draft).ok());
  polku::v1::CreateDraftRequest reset;
  reset.set_key("j");
  status = stub_->CreateDraft(As("demo").get(), reset, &draft);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  reset.set_discard_changes(true);
  ASSERT_TRUE(stub_->CreateDraft(As("demo").get(), reset, &draft).ok());
  EXPECT_EQ(draft.name(), "Switching mobile operator");
  EXPECT_EQ(draft.touchpoints(1).key(), "store_seller");
  EXPECT_EQ(Publish("demo", "j").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // unchanged since v2
}

// JOURNEY_VIEW_BASIC names the published journeys and shows none of their
// maps, nor anything of a draft: not a journey never published, not the
// pending edits (here a rename) of one that was.
TEST_F(JourneyServiceTest, BasicViewListsPublishedJourneysWithoutTheirMaps) {
  ASSERT_TRUE(Create("demo", MakeJourney("published")).ok());
  ASSERT_TRUE(Publish("demo", "published").ok());
  polku::v1::UpdateDraftRequest rename;
  *rename.mutable_journey() = MakeJourney("published");
  rename.mutable_journey()->set_name("Secret new name");
  rename.mutable_update_mask()->add_paths("name");
  Journey draft;
  ASSERT_TRUE(stub_->UpdateDraft(As("demo").get(), rename, &draft).ok());
  ASSERT_TRUE(Create("demo", MakeJourney("draft-only")).ok());

  polku::v1::ListJourneysRequest request;
  request.set_view(polku::v1::JOURNEY_VIEW_BASIC);
  polku::v1::ListJourneysResponse basic;
  grpc::Status status = stub_->ListJourneys(As("demo").get(), request, &basic);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(basic.journeys_size(), 1);
  const Journey& listed = basic.journeys(0);
  EXPECT_EQ(listed.key(), "published");
  EXPECT_EQ(listed.name(), "Switching mobile operator");
  EXPECT_EQ(listed.version(), 1);
  EXPECT_EQ(listed.state(), polku::v1::PUBLISHED);
  EXPECT_TRUE(listed.has_publish_time());
  EXPECT_EQ(listed.stages_size(), 0);
  EXPECT_EQ(listed.touchpoints_size(), 0);
  EXPECT_FALSE(listed.has_outcomes());
  EXPECT_EQ(listed.description(), "");

  // FULL, and an unset view, as before: every journey with its map.
  for (auto view :
       {polku::v1::JOURNEY_VIEW_FULL, polku::v1::JOURNEY_VIEW_UNSPECIFIED}) {
    request.set_view(view);
    polku::v1::ListJourneysResponse full;
    ASSERT_TRUE(stub_->ListJourneys(As("demo").get(), request, &full).ok());
    ASSERT_EQ(full.journeys_size(), 2) << view;
    EXPECT_EQ(full.journeys(0).key(), "draft-only");
    EXPECT_GT(full.journeys(1).touchpoints_size(), 0);
  }

  request.set_view(static_cast<polku::v1::JourneyView>(7));
  polku::v1::ListJourneysResponse refused;
  status = stub_->ListJourneys(As("demo").get(), request, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("view"));
}

TEST_F(JourneyServiceTest, RemovalNeedsAllowRemovals) {
  ASSERT_TRUE(Create("demo", MakeJourney("j")).ok());
  ASSERT_TRUE(Publish("demo", "j").ok());
  polku::v1::UpdateDraftRequest update;
  *update.mutable_journey() = MakeJourney("j");
  update.mutable_journey()->mutable_touchpoints()->RemoveLast();
  Journey draft;
  ASSERT_TRUE(stub_->UpdateDraft(As("demo").get(), update, &draft).ok());
  grpc::Status status = Publish("demo", "j");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("shop_in_shop_sales"));
  polku::v1::PublishJourneyRequest publish;
  publish.set_key("j");
  publish.set_allow_removals(true);
  Journey v2;
  ASSERT_TRUE(stub_->PublishJourney(As("demo").get(), publish, &v2).ok());
  EXPECT_EQ(v2.version(), 2);
}

TEST_F(JourneyServiceTest, UpdateDraftRefusesBadMasksAndInvalidMaps) {
  ASSERT_TRUE(Create("demo", MakeJourney("j")).ok());
  polku::v1::UpdateDraftRequest update;
  *update.mutable_journey() = MakeJourney("j");
  update.mutable_update_mask()->add_paths("version");
  Journey draft;
  grpc::Status status = stub_->UpdateDraft(As("demo").get(), update, &draft);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("update_mask.paths[0]"));

  update.clear_update_mask();
  update.mutable_journey()->mutable_touchpoints(0)->set_stage("nowhere");
  status = stub_->UpdateDraft(As("demo").get(), update, &draft);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("journey.touchpoints[0].stage: unknown stage"));

  *update.mutable_journey() = MakeJourney("missing");
  status = stub_->UpdateDraft(As("demo").get(), update, &draft);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(JourneyServiceTest, TenantChannelsAreRegisteredAndUsable) {
  Journey journey = MakeJourney("j");
  journey.mutable_touchpoints(0)->set_channel("kiosk");
  EXPECT_EQ(Create("demo", journey).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  polku::v1::CreateChannelRequest request;
  request.mutable_channel()->set_key("kiosk");
  request.mutable_channel()->set_display_name("Self-service kiosk");
  polku::v1::Channel channel;
  ASSERT_TRUE(stub_->CreateChannel(As("demo").get(), request, &channel).ok());
  EXPECT_EQ(
      stub_->CreateChannel(As("demo").get(), request, &channel).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  request.mutable_channel()->set_key("shop");
  EXPECT_EQ(
      stub_->CreateChannel(As("demo").get(), request, &channel).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);

  ASSERT_TRUE(Create("demo", journey).ok());
  ASSERT_TRUE(Publish("demo", "j").ok());
  // Another tenant does not have it.
  EXPECT_EQ(Create("other", journey).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  polku::v1::ListChannelsResponse list;
  ASSERT_TRUE(stub_->ListChannels(As("demo").get(), {}, &list).ok());
  std::vector<std::string> keys;
  for (const auto& c : list.channels()) keys.push_back(c.key());
  EXPECT_THAT(keys, ::testing::Contains("kiosk"));
  EXPECT_THAT(
      keys, ::testing::IsSupersetOf({"shop", "phone", "web", "email", "mobile",
                                     "chat", "direct_mail", "field_service"}));
}

TEST_F(JourneyServiceTest, ArchivedJourneysLeaveListingsAndTheIndex) {
  ASSERT_TRUE(Create("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());
  ASSERT_TRUE(Create("demo", MakeJourney("b")).ok());
  ASSERT_TRUE(Publish("demo", "b").ok());

  auto context = As("");
  auto watch = stub_->WatchJourneys(context.get(), {});
  WatchJourneysResponse message;
  ASSERT_TRUE(watch->Read(&message));
  EXPECT_THAT(Seen(message), ElementsAre("demo/a@1", "demo/b@1"));

  polku::v1::ArchiveJourneyRequest archive;
  archive.set_key("a");
  Journey archived;
  ASSERT_TRUE(stub_->ArchiveJourney(As("demo").get(), archive, &archived).ok());
  EXPECT_TRUE(archived.archived());
  // Watchers get a fresh snapshot without it.
  ASSERT_TRUE(watch->Read(&message));
  EXPECT_TRUE(message.reset());
  EXPECT_THAT(Seen(message), ElementsAre("demo/b@1"));

  polku::v1::ListJourneysResponse list;
  ASSERT_TRUE(stub_->ListJourneys(As("demo").get(), {}, &list).ok());
  ASSERT_EQ(list.journeys_size(), 1);
  EXPECT_EQ(list.journeys(0).key(), "b");
  polku::v1::ListJourneysRequest all;
  all.set_include_archived(true);
  ASSERT_TRUE(stub_->ListJourneys(As("demo").get(), all, &list).ok());
  EXPECT_EQ(list.journeys_size(), 2);

  Journey read;
  ASSERT_TRUE(Get("demo", "a", 1, &read).ok());
  EXPECT_TRUE(read.archived());
  EXPECT_EQ(Publish("demo", "a").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  context->TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace polku::journey
