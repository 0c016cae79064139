// What only several replicas on one PostgreSQL can show: concurrent schema
// migrations, concurrent publishes of one journey, and a database that goes
// away and comes back. Behaviour shared with SQLite is tested in
// journey_store_conformance_test.cc.
#include "services/journey/pg_journey_store.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "lib/base/clock.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/test_server.h"
#include "services/journey/store_test_backends.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::testing::HasSubstr;

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

absl::StatusOr<Journey> AcceptAll(const Journey& draft, const Journey*) {
  return draft;
}

// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool Eventually(Condition condition,
                absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class PgJourneyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = testing::PostgresBackend::Create();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }

  std::unique_ptr<PgJourneyStore> OpenStore() {
    auto store = PgJourneyStore::Open(backend_->url(), clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // A connection of its own, as an operator's psql would be.
  std::unique_ptr<postgres::Connection> Admin() {
    auto db = postgres::Connection::Open(backend_->url(), absl::Seconds(10));
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<testing::PostgresBackend> backend_;
};

TEST_F(PgJourneyStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 4;
  std::vector<absl::Status> opened(kReplicas);
  std::vector<std::unique_ptr<PgJourneyStore>> stores(kReplicas);
  std::vector<std::thread> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.emplace_back([&, i] {
      auto store = PgJourneyStore::Open(backend_->url(), clock_);
      opened[i] = store.status();
      if (store.ok()) stores[i] = *std::move(store);
    });
  }
  for (std::thread& replica : replicas) replica.join();
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(opened[i].ok()) << "replica " << i << ": " << opened[i];
  }
  std::unique_ptr<postgres::Connection> admin = Admin();
  ASSERT_NE(admin, nullptr);
  auto applied =
      admin->Execute("SELECT count(*), max(version) FROM schema_migrations");
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->Int(0, 0), 1);
  EXPECT_EQ(applied->Int(0, 1), 1);
  // Each works on the one schema.
  ASSERT_TRUE(stores[0]->CreateJourney("demo", MakeJourney("a", "A")).ok());
  EXPECT_EQ(stores[kReplicas - 1]->GetJourney("demo", "a", 0)->name(), "A");
}

// Replica A is inside its publish transaction when replica B publishes the
// same draft: B must wait for A, then find the draft already published.
TEST_F(PgJourneyStoreTest, TwoReplicasPublishingOneDraftMakeOneVersion) {
  std::unique_ptr<PgJourneyStore> a = OpenStore();
  std::unique_ptr<PgJourneyStore> b = OpenStore();
  std::unique_ptr<postgres::Connection> admin = Admin();
  ASSERT_TRUE(a && b && admin);
  ASSERT_TRUE(a->CreateJourney("demo", MakeJourney("j", "Draft")).ok());

  auto waiting_for_a_lock = [&] {
    auto waiting = admin->Execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'");
    return waiting.ok() && waiting->Int(0, 0) > 0;
  };
  absl::StatusOr<Journey> b_result;
  std::thread b_publish;
  bool b_blocked = false;
  absl::StatusOr<Journey> a_result = a->PublishDraft(
      "demo", "j",
      [&](const Journey& draft, const Journey*) -> absl::StatusOr<Journey> {
        b_publish = std::thread(
            [&] { b_result = b->PublishDraft("demo", "j", AcceptAll); });
        b_blocked = Eventually(waiting_for_a_lock);
        return draft;
      });
  b_publish.join();
  EXPECT_TRUE(b_blocked) << "B's publish never waited for A's";
  ASSERT_TRUE(a_result.ok()) << a_result.status();
  EXPECT_EQ(a_result->version(), 1);
  EXPECT_EQ(b_result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(b_result.status().message(),
              HasSubstr("draft unchanged since version 1"));

  absl::StatusOr<JourneyPage> versions = b->ListVersions("demo", "j", 0, "");
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->journeys.size(), 1u);
  EXPECT_EQ(versions->journeys[0].version(), 1);
}

// Many editors on two replicas: every publish that succeeds gets its own
// version number, and the numbers have no gaps.
TEST_F(PgJourneyStoreTest, ConcurrentPublishesNeverShareOrSkipAVersion) {
  std::unique_ptr<PgJourneyStore> replicas[] = {OpenStore(), OpenStore()};
  ASSERT_TRUE(replicas[0] && replicas[1]);
  ASSERT_TRUE(
      replicas[0]->CreateJourney("demo", MakeJourney("j", "start")).ok());

  constexpr int kEditorsPerReplica = 2;
  constexpr int kRounds = 8;
  absl::Mutex mu;
  std::vector<int> versions;
  std::vector<std::string> unexpected;
  std::vector<std::thread> editors;
  for (int r = 0; r < 2; ++r) {
    for (int e = 0; e < kEditorsPerReplica; ++e) {
      editors.emplace_back([&, r, e] {
        JourneyStore& store = *replicas[r];
        for (int round = 0; round < kRounds; ++round) {
          const std::string name = absl::StrCat("r", r, "e", e, "n", round);
          absl::Status edited =
              store.UpdateDraft("demo", MakeJourney("j", name)).status();
          absl::StatusOr<Journey> published =
              store.PublishDraft("demo", "j", AcceptAll);
          absl::MutexLock lock(&mu);
          if (!edited.ok()) unexpected.push_back(edited.ToString());
          if (published.ok()) {
            versions.push_back(published->version());
          } else if (!absl::IsFailedPrecondition(published.status())) {
            // Another editor publishing this draft first is the only refusal.
            unexpected.push_back(published.status().ToString());
          }
        }
      });
    }
  }
  for (std::thread& editor : editors) editor.join();
  EXPECT_THAT(unexpected, ::testing::IsEmpty());
  std::sort(versions.begin(), versions.end());
  ASSERT_FALSE(versions.empty());
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i], static_cast<int>(i) + 1)
        << "versions returned twice or skipped";
  }
  absl::StatusOr<Journey> latest = replicas[1]->GetJourney("demo", "j", 0);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->version(), static_cast<int>(versions.size()));
}

// A server of its own: this test stops it.
TEST(PgJourneyStoreOutageTest,
     CallsFailUnavailableWhileTheDatabaseIsDownThenRecover) {
  auto server = postgres::TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("journeys").ok());
  const std::string url = (*server)->Url("journeys");
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  auto store = PgJourneyStore::Open(url, clock);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateJourney("demo", MakeJourney("j", "Before")).ok());
  ASSERT_TRUE((*store)->PublishDraft("demo", "j", AcceptAll).ok());

  ASSERT_TRUE((*server)->Kill().ok());
  absl::StatusOr<Journey> down = (*store)->GetJourney("demo", "j", 0);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.status().message(),
              HasSubstr("journey database is unavailable"));
  // Every later call too, promptly, until the server is back.
  EXPECT_EQ(
      (*store)->UpdateDraft("demo", MakeJourney("j", "x")).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ((*store)->PublishedGeneration().status().code(),
            absl::StatusCode::kUnavailable);
  // A replica starting now is told why it cannot.
  auto starting = PgJourneyStore::Open(url, clock);
  EXPECT_EQ(starting.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(starting.status().message(), HasSubstr("unreachable"));

  ASSERT_TRUE((*server)->Restart().ok());
  absl::StatusOr<Journey> back = (*store)->GetJourney("demo", "j", 1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name(), "Before");
  ASSERT_TRUE((*store)->UpdateDraft("demo", MakeJourney("j", "After")).ok());
  absl::StatusOr<Journey> v2 = (*store)->PublishDraft("demo", "j", AcceptAll);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version(), 2);
}

}  // namespace
}  // namespace polku::journey
