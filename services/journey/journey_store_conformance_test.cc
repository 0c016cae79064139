// The tests every JourneyStore implementation passes, run against each:
// SQLite in a temporary file and a real PostgreSQL server this binary starts
// (store_test_backends.h). A behaviour belongs here unless it exists on one
// backend only.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "services/journey/journey_store.h"
#include "services/journey/store_test_backends.h"

namespace polku::journey {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::polku::v1::Journey;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kCreated = absl::FromUnixSeconds(1'700'000'000);

Journey MakeJourney(const std::string& key,
                    const std::string& name = "Journey") {
  Journey journey;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        stages { key: "need" name: "Need" }
        stages { key: "purchase" name: "Purchase" }
        touchpoints {
          key: "shop_visit"
          name: "Shop visit"
          stage: "purchase"
          channel: "shop"
          kind: INTERACTION
          target { csat_top2_box: 0.8 }
        }
      )pb",
      &journey);
  journey.set_key(key);
  journey.set_name(name);
  return journey;
}

absl::StatusOr<Journey> AcceptAll(const Journey& draft, const Journey*) {
  return draft;
}

std::vector<std::string> Keys(const std::vector<Journey>& journeys) {
  std::vector<std::string> keys;
  for (const Journey& journey : journeys) keys.push_back(journey.key());
  return keys;
}

// The parameter names the backend: "sqlite" or "postgresql".
class JourneyStoreConformanceTest
    : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::Backend>> backend =
        testing::MakeBackend(GetParam());
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  // Another store on this test's database.
  std::unique_ptr<JourneyStore> OpenStore() {
    auto store = backend_->Open(clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  absl::StatusOr<Journey> Publish(const std::string& tenant,
                                  const std::string& key) {
    return store_->PublishDraft(tenant, key, AcceptAll);
  }

  FakeClock clock_{kCreated};
  std::unique_ptr<testing::Backend> backend_;
  std::unique_ptr<JourneyStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, JourneyStoreConformanceTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST_P(JourneyStoreConformanceTest,
       CreateStoresDraftAndIgnoresOutputOnlyFields) {
  Journey journey = MakeJourney("home-renovation");
  journey.set_version(9);
  journey.set_state(polku::v1::PUBLISHED);
  journey.mutable_publish_time()->set_seconds(5);

  absl::StatusOr<Journey> created = store_->CreateJourney("demo", journey);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->version(), 0);
  EXPECT_EQ(created->state(), polku::v1::DRAFT);
  EXPECT_EQ(created->create_time().seconds(), absl::ToUnixSeconds(kCreated));
  EXPECT_FALSE(created->has_publish_time());

  absl::StatusOr<Journey> got =
      store_->GetJourney("demo", "home-renovation", 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, *created));
  EXPECT_EQ(got->touchpoints(0).key(), "shop_visit");
}

TEST_P(JourneyStoreConformanceTest, CreateTwiceIsAlreadyExists) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  absl::StatusOr<Journey> again =
      store_->CreateJourney("demo", MakeJourney("a"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("\"a\""));
}

TEST_P(JourneyStoreConformanceTest, GetNamesWhatIsMissing) {
  absl::StatusOr<Journey> missing = store_->GetJourney("demo", "nope", 0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("\"nope\""));

  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  absl::StatusOr<Journey> unpublished = store_->GetJourney("demo", "a", 1);
  EXPECT_EQ(unpublished.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unpublished.status().message(),
              HasSubstr("\"a\" has no version 1: it was never published"));

  ASSERT_TRUE(Publish("demo", "a").ok());
  absl::StatusOr<Journey> future = store_->GetJourney("demo", "a", 3);
  EXPECT_EQ(future.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(future.status().message(),
              HasSubstr("no version 3 (latest published: 1)"));

  EXPECT_EQ(store_->GetJourney("demo", "a", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(JourneyStoreConformanceTest, PublishFreezesDraftAsNextVersion) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "First")).ok());
  clock_.Advance(absl::Hours(1));

  absl::StatusOr<Journey> v1 = Publish("demo", "a");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version(), 1);
  EXPECT_EQ(v1->state(), polku::v1::PUBLISHED);
  EXPECT_EQ(v1->name(), "First");
  EXPECT_EQ(v1->create_time().seconds(), absl::ToUnixSeconds(kCreated));
  EXPECT_EQ(v1->publish_time().seconds(),
            absl::ToUnixSeconds(kCreated + absl::Hours(1)));

  absl::StatusOr<Journey> latest = store_->GetJourney("demo", "a", 0);
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*latest, *v1));
}

TEST_P(JourneyStoreConformanceTest, PublishingAnUnchangedDraftFails) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());
  absl::StatusOr<Journey> again = Publish("demo", "a");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(),
              HasSubstr("draft unchanged since version 1"));
}

TEST_P(JourneyStoreConformanceTest, PublishUnknownJourneyIsNotFound) {
  EXPECT_EQ(Publish("demo", "nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JourneyStoreConformanceTest, PublishStopsAtFailedCheck) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  int checked_version = -1;
  absl::StatusOr<Journey> refused = store_->PublishDraft(
      "demo", "a",
      [&](const Journey& draft,
          const Journey* /*latest*/) -> absl::StatusOr<Journey> {
        checked_version = draft.version();
        return absl::InvalidArgumentError("journey.name: required");
      });
  EXPECT_EQ(checked_version, 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetJourney("demo", "a", 1).status().code(),
            absl::StatusCode::kNotFound);
  // Nothing half-done blocks a later publish.
  absl::StatusOr<Journey> v1 = Publish("demo", "a");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version(), 1);
}

TEST_P(JourneyStoreConformanceTest, PublishedVersionsNeverChange) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "First")).ok());
  absl::StatusOr<Journey> v1 = Publish("demo", "a");
  ASSERT_TRUE(v1.ok());

  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(store_->UpdateDraft("demo", MakeJourney("a", "Second")).ok());
  // Editing the draft leaves the latest published version in force.
  EXPECT_EQ(store_->GetJourney("demo", "a", 0)->name(), "First");

  absl::StatusOr<Journey> v2 = Publish("demo", "a");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version(), 2);
  EXPECT_EQ(v2->name(), "Second");

  absl::StatusOr<Journey> v1_again = store_->GetJourney("demo", "a", 1);
  ASSERT_TRUE(v1_again.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*v1_again, *v1));
  EXPECT_EQ(store_->GetJourney("demo", "a", 0)->version(), 2);
}

TEST_P(JourneyStoreConformanceTest, DatabaseRefusesToChangePublishedRows) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());

  absl::Status update = backend_->ExecSql(
      "UPDATE journey_versions SET update_time_us = 0 WHERE version = 1");
  EXPECT_FALSE(update.ok());
  EXPECT_THAT(update.message(), HasSubstr("immutable"));
  EXPECT_FALSE(
      backend_->ExecSql("DELETE FROM journey_versions WHERE version = 1").ok());
  // The draft stays editable.
  EXPECT_TRUE(backend_
                  ->ExecSql("UPDATE journey_versions SET update_time_us = 0 "
                            "WHERE version = 0")
                  .ok());
  EXPECT_TRUE(store_->GetJourney("demo", "a", 1).ok());
}

TEST_P(JourneyStoreConformanceTest, SurvivesReopen) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "Kept")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  absl::StatusOr<Journey> v1 = store_->GetJourney("demo", "a", 1);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->name(), "Kept");
}

TEST_P(JourneyStoreConformanceTest, ListPagesInKeyOrder) {
  for (const char* key : {"e", "b", "d", "a", "c"}) {
    ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney(key)).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<JourneyPage> page =
        store_->ListJourneys("demo", 2, token, /*include_archived=*/false);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->journeys.size(), 2u);
    for (const std::string& key : Keys(page->journeys)) seen.push_back(key);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(pages, 3);

  // A page that ends exactly at the last journey says so.
  absl::StatusOr<JourneyPage> all =
      store_->ListJourneys("demo", 5, "", /*include_archived=*/false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->journeys.size(), 5u);
  EXPECT_EQ(all->next_page_token, "");
}

TEST_P(JourneyStoreConformanceTest, ListPageSizeDefaultsAndCaps) {
  for (int i = 0; i < kDefaultPageSize + 1; ++i) {
    ASSERT_TRUE(
        store_->CreateJourney("demo", MakeJourney(absl::StrCat("j", 100 + i)))
            .ok());
  }
  absl::StatusOr<JourneyPage> page =
      store_->ListJourneys("demo", 0, "", /*include_archived=*/false);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->journeys.size(), static_cast<size_t>(kDefaultPageSize));
  EXPECT_NE(page->next_page_token, "");

  absl::StatusOr<JourneyPage> capped =
      store_->ListJourneys("demo", 1'000'000, "", /*include_archived=*/false);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->journeys.size(), static_cast<size_t>(kDefaultPageSize + 1));
}

TEST_P(JourneyStoreConformanceTest, ListRejectsBadArguments) {
  absl::StatusOr<JourneyPage> negative =
      store_->ListJourneys("demo", -1, "", /*include_archived=*/false);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("page_size"));

  for (const char* token : {"!!!", "YWJj"}) {  // not base64; base64 of "abc"
    absl::StatusOr<JourneyPage> bad =
        store_->ListJourneys("demo", 10, token, /*include_archived=*/false);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_THAT(bad.status().message(), HasSubstr("page_token")) << token;
  }
}

TEST_P(JourneyStoreConformanceTest, ListShowsLatestPublishedElseDraft) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "A draft")).ok());
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("b", "B v1")).ok());
  ASSERT_TRUE(Publish("demo", "b").ok());
  ASSERT_TRUE(store_->UpdateDraft("demo", MakeJourney("b", "B draft")).ok());

  absl::StatusOr<JourneyPage> page =
      store_->ListJourneys("demo", 0, "", /*include_archived=*/false);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->journeys.size(), 2u);
  EXPECT_EQ(page->journeys[0].name(), "A draft");
  EXPECT_EQ(page->journeys[0].state(), polku::v1::DRAFT);
  EXPECT_EQ(page->journeys[1].name(), "B v1");
  EXPECT_EQ(page->journeys[1].version(), 1);
}

TEST_P(JourneyStoreConformanceTest, TenantsNeverSeeEachOther) {
  ASSERT_TRUE(
      store_->CreateJourney("tenant-a", MakeJourney("shared", "A's")).ok());
  ASSERT_TRUE(Publish("tenant-a", "shared").ok());

  EXPECT_EQ(store_->GetJourney("tenant-b", "shared", 0).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJourney("tenant-b", "shared", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      store_->ListJourneys("tenant-b", 0, "", /*include_archived=*/false)
          ->journeys.empty());
  EXPECT_EQ(Publish("tenant-b", "shared").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      store_->UpdateDraft("tenant-b", MakeJourney("shared")).status().code(),
      absl::StatusCode::kNotFound);

  // The same key is free for tenant B, and independent of A's.
  ASSERT_TRUE(
      store_->CreateJourney("tenant-b", MakeJourney("shared", "B's")).ok());
  EXPECT_EQ(store_->GetJourney("tenant-a", "shared", 0)->name(), "A's");
  EXPECT_EQ(store_->GetJourney("tenant-b", "shared", 0)->name(), "B's");
  EXPECT_EQ(store_->GetJourney("tenant-b", "shared", 0)->version(), 0);
}

TEST_P(JourneyStoreConformanceTest, ListPublishedLatestCoversEveryTenant) {
  ASSERT_TRUE(store_->CreateJourney("tenant-b", MakeJourney("x")).ok());
  ASSERT_TRUE(Publish("tenant-b", "x").ok());
  ASSERT_TRUE(store_->CreateJourney("tenant-a", MakeJourney("y")).ok());
  ASSERT_TRUE(Publish("tenant-a", "y").ok());
  ASSERT_TRUE(store_->UpdateDraft("tenant-a", MakeJourney("y", "v2")).ok());
  ASSERT_TRUE(Publish("tenant-a", "y").ok());
  // Never published: not part of the index.
  ASSERT_TRUE(store_->CreateJourney("tenant-a", MakeJourney("z")).ok());

  auto latest = store_->ListPublishedLatest();
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0].tenant(), "tenant-a");
  EXPECT_EQ((*latest)[0].journey().key(), "y");
  EXPECT_EQ((*latest)[0].journey().version(), 2);
  EXPECT_EQ((*latest)[0].journey().name(), "v2");
  EXPECT_EQ((*latest)[1].tenant(), "tenant-b");
  EXPECT_EQ((*latest)[1].journey().key(), "x");
  EXPECT_EQ((*latest)[1].journey().version(), 1);
}

TEST_P(JourneyStoreConformanceTest, ListPublishedVersionsHasEveryVersion) {
  ASSERT_TRUE(store_->CreateJourney("tenant-b", MakeJourney("x")).ok());
  ASSERT_TRUE(Publish("tenant-b", "x").ok());
  ASSERT_TRUE(store_->CreateJourney("tenant-a", MakeJourney("y")).ok());
  ASSERT_TRUE(Publish("tenant-a", "y").ok());
  ASSERT_TRUE(store_->UpdateDraft("tenant-a", MakeJourney("y", "v2")).ok());
  ASSERT_TRUE(Publish("tenant-a", "y").ok());
  // A draft with edits is not a version.
  ASSERT_TRUE(store_->UpdateDraft("tenant-a", MakeJourney("y", "v3")).ok());
  ASSERT_TRUE(store_->CreateJourney("tenant-a", MakeJourney("z")).ok());

  auto versions = store_->ListPublishedVersions();
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].journey().key(), "y");
  EXPECT_EQ((*versions)[0].journey().version(), 1);
  EXPECT_EQ((*versions)[1].journey().version(), 2);
  EXPECT_EQ((*versions)[1].journey().name(), "v2");
  EXPECT_TRUE((*versions)[1].journey().has_publish_time());
  EXPECT_EQ((*versions)[2].tenant(), "tenant-b");
  EXPECT_EQ((*versions)[2].journey().version(), 1);
}

// What PrepareVersion returns is what is frozen: the rename chain is kept in
// the published version, and a draft copied back from it compares equal.
TEST_P(JourneyStoreConformanceTest, PublishedVersionsKeepTheirRenameChains) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());
  Journey renamed = MakeJourney("a");
  renamed.mutable_touchpoints(0)->set_key("store_visit");
  renamed.mutable_touchpoints(0)->set_replaces("shop_visit");
  ASSERT_TRUE(store_->UpdateDraft("demo", renamed).ok());
  const Journey* seen_latest = nullptr;
  int latest_version = 0;
  absl::StatusOr<Journey> v2 = store_->PublishDraft(
      "demo", "a",
      [&](const Journey& draft,
          const Journey* latest) -> absl::StatusOr<Journey> {
        seen_latest = latest;
        if (latest != nullptr) latest_version = latest->version();
        Journey version = draft;
        version.mutable_touchpoints(0)->add_former_keys("shop_visit");
        return version;
      });
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_NE(seen_latest, nullptr);
  EXPECT_EQ(latest_version, 1);
  absl::StatusOr<Journey> read = store_->GetVersion("demo", "a", 2);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->touchpoints(0).former_keys_size(), 1);
  EXPECT_EQ(read->touchpoints(0).former_keys(0), "shop_visit");
  // The draft never holds the chain, and still counts as unchanged.
  EXPECT_EQ(
      store_->GetVersion("demo", "a", 0)->touchpoints(0).former_keys_size(), 0);
  EXPECT_EQ(Publish("demo", "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(JourneyStoreConformanceTest, ResetDraftCopiesTheLatestVersion) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "First")).ok());
  EXPECT_EQ(store_->ResetDraft("demo", "a", false).status().code(),
            absl::StatusCode::kFailedPrecondition);  // never published
  ASSERT_TRUE(Publish("demo", "a").ok());
  ASSERT_TRUE(store_->UpdateDraft("demo", MakeJourney("a", "Edited")).ok());
  EXPECT_EQ(store_->ResetDraft("demo", "a", false).status().code(),
            absl::StatusCode::kFailedPrecondition);  // edits would be lost
  absl::StatusOr<Journey> draft = store_->ResetDraft("demo", "a", true);
  ASSERT_TRUE(draft.ok()) << draft.status();
  EXPECT_EQ(draft->name(), "First");
  EXPECT_EQ(store_->GetVersion("demo", "a", 0)->name(), "First");
  EXPECT_EQ(store_->ResetDraft("demo", "missing", true).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JourneyStoreConformanceTest, ListVersionsPagesOldestFirst) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "v1")).ok());
  for (int v = 1; v <= 3; ++v) {
    ASSERT_TRUE(
        store_->UpdateDraft("demo", MakeJourney("a", absl::StrCat("v", v)))
            .ok());
    ASSERT_TRUE(Publish("demo", "a").ok());
  }
  std::vector<int> versions;
  std::string token;
  do {
    absl::StatusOr<JourneyPage> page =
        store_->ListVersions("demo", "a", 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Journey& journey : page->journeys) {
      versions.push_back(journey.version());
    }
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(versions, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(store_->ListVersions("demo", "a", 0, "junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListVersions("demo", "b", 0, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetVersion("demo", "a", 4).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JourneyStoreConformanceTest, ArchivedJourneysAreFrozenAndUnlisted) {
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(Publish("demo", "a").ok());
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("b")).ok());
  absl::StatusOr<Journey> archived = store_->Archive("demo", "a");
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_TRUE(archived->archived());
  EXPECT_TRUE(store_->Archive("demo", "a").ok());  // twice is fine
  EXPECT_EQ(store_->Archive("demo", "zzz").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Keys(store_->ListJourneys("demo", 0, "", false)->journeys),
            std::vector<std::string>{"b"});
  EXPECT_EQ(store_->ListJourneys("demo", 0, "", true)->journeys.size(), 2u);
  EXPECT_TRUE(store_->ListPublishedLatest()->empty());
  EXPECT_TRUE(store_->ListPublishedVersions()->empty());
  EXPECT_EQ(store_->UpdateDraft("demo", MakeJourney("a", "x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Publish("demo", "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->GetJourney("demo", "a", 1)->archived());
}

TEST_P(JourneyStoreConformanceTest, ChannelsArePerTenant) {
  polku::v1::Channel kiosk;
  kiosk.set_key("kiosk");
  kiosk.set_display_name("Kiosk");
  ASSERT_TRUE(store_->CreateChannel("demo", kiosk).ok());
  EXPECT_EQ(store_->CreateChannel("demo", kiosk).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->CreateChannel("other", kiosk).ok());
  absl::StatusOr<std::vector<polku::v1::Channel>> channels =
      store_->ListChannels("demo");
  ASSERT_TRUE(channels.ok()) << channels.status();
  ASSERT_EQ(channels->size(), 1u);
  EXPECT_EQ((*channels)[0].display_name(), "Kiosk");
  EXPECT_TRUE(store_->ListChannels("third")->empty());
}

TEST_P(JourneyStoreConformanceTest,
       PublishedGenerationMovesWithThePublishedSet) {
  absl::StatusOr<int64_t> start = store_->PublishedGeneration();
  ASSERT_TRUE(start.ok()) << start.status();
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a")).ok());
  ASSERT_TRUE(store_->UpdateDraft("demo", MakeJourney("a", "Edited")).ok());
  // Drafts are not part of what watchers see.
  EXPECT_EQ(*store_->PublishedGeneration(), *start);

  ASSERT_TRUE(Publish("demo", "a").ok());
  const int64_t published = *store_->PublishedGeneration();
  EXPECT_NE(published, *start);
  // A refused publish changes nothing.
  ASSERT_FALSE(Publish("demo", "a").ok());
  EXPECT_EQ(*store_->PublishedGeneration(), published);

  ASSERT_TRUE(store_->Archive("demo", "a").ok());
  const int64_t archived = *store_->PublishedGeneration();
  EXPECT_NE(archived, published);
  // Every store on the database counts alike: the count is in the database.
  std::unique_ptr<JourneyStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other->PublishedGeneration(), archived);
}

TEST_P(JourneyStoreConformanceTest, StoresOnOneDatabaseShareEverything) {
  std::unique_ptr<JourneyStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney("a", "Mine")).ok());
  EXPECT_EQ(other->CreateJourney("demo", MakeJourney("a")).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(other->UpdateDraft("demo", MakeJourney("a", "Theirs")).ok());
  absl::StatusOr<Journey> v1 = Publish("demo", "a");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->name(), "Theirs");
  // The second store continues the version sequence the first started.
  ASSERT_TRUE(other->UpdateDraft("demo", MakeJourney("a", "Again")).ok());
  absl::StatusOr<Journey> v2 = other->PublishDraft("demo", "a", AcceptAll);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version(), 2);
  EXPECT_EQ(store_->GetJourney("demo", "a", 0)->name(), "Again");
}

// Keys sort byte by byte on both backends, whatever the server's locale.
TEST_P(JourneyStoreConformanceTest, ListOrderIsByteOrder) {
  for (const char* key : {"b", "a-b", "a_b", "ab", "a"}) {
    ASSERT_TRUE(store_->CreateJourney("demo", MakeJourney(key)).ok());
  }
  absl::StatusOr<JourneyPage> page =
      store_->ListJourneys("demo", 0, "", /*include_archived=*/false);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Keys(page->journeys), ElementsAre("a", "a-b", "a_b", "ab", "b"));
}

}  // namespace
}  // namespace polku::journey
