// What only PostgreSQL has: several replicas on one database, connections
// killed mid-page, a server that goes away and comes back, and choosing the
// backend from --database_url. The behaviour both backends share is in
// rollup_store_conformance_test.cc.
#include "services/insight/postgres/pg_rollup_store.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/postgres/postgres.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/postgres/testing/test_server.h"
#include "services/insight/server/rollup_store_factory.h"
#include "services/insight/store/attribute_index.h"
#include "services/insight/store/projection_test_util.h"
#include "services/insight/store/rollup_conformance_util.h"
#include "services/insight/store/sql_text.h"

namespace polku::insight {
namespace {

using testing::Backend;
using testing::Entry;
using testing::EventSpec;
using ::testing::HasSubstr;
using testing::MakeEvent;
using testing::TestDatabase;

google::protobuf::RepeatedPtrField<v1::StoredEvent> Page(
    const std::vector<EventSpec>& specs) {
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (const EventSpec& spec : specs) *page.Add() = MakeEvent(spec);
  return page;
}

// Events first_sequence.. on touchpoint "a_first" with a measure, the last
// one on `last` (the rollup row Apply writes last).
google::protobuf::RepeatedPtrField<v1::StoredEvent> NumberedPage(
    int64_t first_sequence, int count, const std::string& last = "m_last") {
  std::vector<EventSpec> specs;
  for (int i = 0; i < count; ++i) {
    specs.push_back({.sequence = first_sequence + i,
                     .touchpoint = i + 1 == count ? last : "a_first",
                     .csat = 1 + i % 5,
                     .nps = i % 11,
                     .measures = {{"wait_seconds", 0.25 * i}},
                     .customer_hash = absl::StrCat("c", i % 7)});
  }
  return Page(specs);
}

std::unique_ptr<postgres::Connection> Connect(const std::string& url) {
  absl::StatusOr<std::unique_ptr<postgres::Connection>> db =
      postgres::Connection::Open(url, absl::Seconds(10));
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

std::string Everything(RollupStore& store) {
  std::string out;
  for (const ScorecardQuery& query : testing::Queries()) {
    absl::StrAppend(&out, testing::ScorecardOf(store, query));
  }
  return out;
}

TEST(PgRollupStoreTest, ReplicasTailingOneFeedTogetherCountEveryEventOnce) {
  testing::FeedSimulation simulation(31337);
  const std::vector<Entry> feed = simulation.Generate(2500);

  std::unique_ptr<TestDatabase> shared =
      TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(shared, nullptr);
  // The feed grows while two replicas tail it, each with its own page
  // sizes, and each now and then going back (a restart, a re-delivered
  // stream), so they apply the same and overlapping pages at once.
  std::atomic<size_t> committed{0};
  std::atomic<int> failures{0};
  auto replica = [&](uint64_t seed, int* pages) {
    std::unique_ptr<RollupStore> store = shared->Open();
    if (store == nullptr) {
      ++failures;
      return;
    }
    testing::FeedSimulation random(seed);
    size_t position = 0;
    for (int step = 0; position < feed.size() && step < 100'000; ++step) {
      size_t now = committed.load();
      const size_t grown = std::min(feed.size(), now + random.Uniform(0, 40));
      committed.compare_exchange_strong(now, grown);
      absl::Status status = testing::DeliverPage(
          *store, feed, committed.load(), random.Uniform(1, 60), &position);
      if (!status.ok()) {
        ADD_FAILURE() << "replica " << seed << ": " << status;
        ++failures;
        return;
      }
      ++*pages;
      if (random.Chance(0.05)) {
        const size_t back = random.Uniform(0, 80);
        position = position > back ? position - back : 0;
      }
    }
  };
  int pages_a = 0;
  int pages_b = 0;
  std::thread a(replica, 1, &pages_a);
  std::thread b(replica, 2, &pages_b);
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_GT(pages_a, 50);
  EXPECT_GT(pages_b, 50);

  // One store, alone, from the start of the finished feed.
  std::unique_ptr<TestDatabase> alone =
      TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(alone, nullptr);
  std::unique_ptr<RollupStore> rebuilt = alone->Open();
  ASSERT_NE(rebuilt, nullptr);
  for (size_t at = 0; at < feed.size();) {
    ASSERT_TRUE(
        testing::DeliverPage(*rebuilt, feed, feed.size(), 500, &at).ok());
  }
  const std::vector<std::string> together = shared->Dump();
  const std::vector<std::string> expected = alone->Dump();
  EXPECT_GT(expected.size(), 1000u);
  EXPECT_EQ(together.size(), expected.size());
  EXPECT_EQ(testing::FirstDifference(together, expected), "");
  std::unique_ptr<RollupStore> reader = shared->Open();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*reader->Checkpoint(), feed.back().sequence());
  EXPECT_EQ(Everything(*reader), Everything(*rebuilt));
}

TEST(PgRollupStoreTest, AReplicaKilledMidPageLosesAndDoublesNothing) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Apply(NumberedPage(1, 40)).ok());

  // Another session holds an uncommitted insert of a row the next page
  // writes, so that Apply stops in the middle of the page.
  std::unique_ptr<postgres::Connection> blocker = Connect(db->location());
  ASSERT_NE(blocker, nullptr);
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  absl::StatusOr<postgres::Result> held = blocker->Execute(
      "INSERT INTO rollups (tenant, journey, journey_version, touchpoint,"
      " stage, channel, day) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {postgres::Param::Text("acme"), postgres::Param::Text("switching"),
       postgres::Param::Int(1), postgres::Param::Text("zz_last"),
       postgres::Param::Text("research"), postgres::Param::Text("web"),
       postgres::Param::Int(testing::kMarch1)});
  ASSERT_TRUE(held.ok()) << held.status();
  absl::Status applied;
  std::thread apply(
      [&] { applied = store->Apply(NumberedPage(41, 60, "zz_last")); });

  // Wait (bounded) until the Apply waits on that row, then kill its
  // connection as a crashed replica's would die.
  std::unique_ptr<postgres::Connection> killer = Connect(db->location());
  ASSERT_NE(killer, nullptr);
  int64_t victim = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       victim == 0 && absl::Now() < deadline;) {
    absl::StatusOr<postgres::Result> waiting = killer->Execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO rollups%'");
    ASSERT_TRUE(waiting.ok()) << waiting.status();
    if (waiting->rows() > 0) {
      victim = waiting->Int(0, 0);
    } else {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  ASSERT_NE(victim, 0) << "the Apply never reached the blocked row";
  ASSERT_TRUE(killer
                  ->Execute("SELECT pg_terminate_backend($1)",
                            {postgres::Param::Int(victim)})
                  .ok());
  apply.join();
  EXPECT_EQ(applied.code(), absl::StatusCode::kUnavailable) << applied;
  EXPECT_THAT(applied.message(), HasSubstr("PostgreSQL at"));
  ASSERT_TRUE(blocker->Exec("ROLLBACK").ok());

  // Nothing of the page counts...
  EXPECT_EQ(*store->Checkpoint(), 40);
  ScorecardQuery query{.tenant = "acme", .journey = "switching"};
  GroupedRollups before = *store->Scorecard(query);
  EXPECT_EQ(before.as_of_sequence, 40);
  ASSERT_EQ(before.groups.size(), 2u);
  EXPECT_EQ(before.groups[0].events + before.groups[1].events, 40);

  // ...and the retry (by this replica, then again by another) counts it
  // exactly once.
  ASSERT_TRUE(store->Apply(NumberedPage(41, 60, "zz_last")).ok());
  std::unique_ptr<RollupStore> other = db->Open();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Apply(NumberedPage(41, 60, "zz_last")).ok());
  EXPECT_EQ(*other->Checkpoint(), 100);

  std::unique_ptr<TestDatabase> reference =
      TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(reference, nullptr);
  std::unique_ptr<RollupStore> clean = reference->Open();
  ASSERT_NE(clean, nullptr);
  ASSERT_TRUE(clean->Apply(NumberedPage(1, 40)).ok());
  ASSERT_TRUE(clean->Apply(NumberedPage(41, 60, "zz_last")).ok());
  EXPECT_EQ(testing::FirstDifference(db->Dump(), reference->Dump()), "");
  EXPECT_EQ(testing::Describe(*store->Scorecard(query)),
            testing::Describe(*clean->Scorecard(query)));
}

TEST(PgRollupStoreTest, AnUnreachableDatabaseFailsUnavailableAndRecovers) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Apply(NumberedPage(1, 10)).ok());
  absl::StatusOr<postgres::TestServer*> server =
      postgres::testing::SharedServer();
  ASSERT_TRUE(server.ok()) << server.status();

  ASSERT_TRUE((*server)->Kill().ok());
  const ScorecardQuery query{.tenant = "acme", .journey = "switching"};
  absl::StatusOr<GroupedRollups> scorecard = store->Scorecard(query);
  EXPECT_EQ(scorecard.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(scorecard.status().message(), HasSubstr("PostgreSQL at"));
  absl::Status applied = store->Apply(NumberedPage(11, 10));
  EXPECT_EQ(applied.code(), absl::StatusCode::kUnavailable) << applied;
  EXPECT_THAT(applied.message(), HasSubstr("unreachable"));
  EXPECT_EQ(store->Checkpoint().status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->LoadAlerts("acme", "", true).status().code(),
            absl::StatusCode::kUnavailable);

  // Back: the same store works again without being reopened, and the page
  // that failed is counted once when re-delivered.
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(*store->Checkpoint(), 10);
  ASSERT_TRUE(store->Apply(NumberedPage(11, 10)).ok());
  scorecard = store->Scorecard(query);
  ASSERT_TRUE(scorecard.ok()) << scorecard.status();
  EXPECT_EQ(scorecard->as_of_sequence, 20);
  int64_t events = 0;
  for (const GroupRollup& group : scorecard->groups) events += group.events;
  EXPECT_EQ(events, 20);
}

TEST(PgRollupStoreTest, ReplicasStartingAtOnceMigrateOnce) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::vector<std::thread> replicas;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<RollupStore>> store = db->TryOpen();
      EXPECT_TRUE(store.ok()) << store.status();
      if (store.ok() && (*store)->Checkpoint().ok()) ++opened;
    });
  }
  for (std::thread& replica : replicas) replica.join();
  EXPECT_EQ(opened.load(), 4);
  std::unique_ptr<postgres::Connection> check = Connect(db->location());
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(*check->SchemaVersion("insight"),  // the latest, once
            static_cast<int>(PgRollupStore::Migrations().size()));
}

// A projection registered on two replicas at once, on a database that holds
// data: both catch it up from the ledger while both apply new pages, and it
// counts every event exactly once between them.
TEST(PgRollupStoreTest, ReplicasCatchUpAProjectionTogetherCountingEachEventOnce) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  {
    std::unique_ptr<RollupStore> before = db->Open();
    ASSERT_NE(before, nullptr);
    std::vector<EventSpec> specs;
    for (int64_t sequence = 1; sequence <= 300; ++sequence) {
      specs.push_back({.sequence = sequence, .csat = 4,
                       .customer_hash = absl::StrCat("c", sequence % 7)});
    }
    ASSERT_TRUE(before->Apply(Page(specs)).ok());
  }
  auto record = std::make_shared<testing::ProjectionRecord>();
  std::unique_ptr<RollupStore> a = db->Open(testing::Recording(record));
  std::unique_ptr<RollupStore> b = db->Open(testing::Recording(record));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<std::thread> replicas;
  for (RollupStore* store : {a.get(), b.get()}) {
    replicas.emplace_back([store] {
      int64_t next = 301;
      while (true) {
        // Both replicas apply the same new pages, as both tail the feed.
        EXPECT_TRUE(
            store->Apply(Page({{.sequence = next, .csat = 5}, {.sequence = next + 1}}))
                .ok());
        next += 2;
        absl::StatusOr<bool> more = store->CatchUpStep(/*max_events=*/40);
        EXPECT_TRUE(more.ok()) << more.status();
        if (!more.ok() || !*more) break;
      }
    });
  }
  for (std::thread& replica : replicas) replica.join();
  ASSERT_TRUE(a->Apply(Page({{.sequence = 1000}})).ok());
  const int64_t last = *a->Checkpoint();
  std::map<int64_t, int> expected;
  ScorecardQuery everything{.tenant = "acme", .journey = "switching"};
  ASSERT_TRUE(a->ScanLedger(everything, [&](const CountedEvent& event) {
                 expected[event.sequence] = 1;
                 return absl::OkStatus();
               })
                  .ok());
  EXPECT_EQ(expected.rbegin()->first, last);
  EXPECT_EQ(record->held(), expected);
}

// A database of schema version 1 (before event details and projection
// checkpoints) migrates and goes on: its counted events keep their rollups,
// read at day precision, and are erased exactly.
TEST(PgRollupStoreTest, AVersion1DatabaseMigratesWithItsLedger) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  {
    std::unique_ptr<postgres::Connection> old = Connect(db->location());
    ASSERT_NE(old, nullptr);
    ASSERT_TRUE(old->Migrate("insight", {PgRollupStore::Migrations()[0]}).ok());
    // What version 1's Apply wrote for two events of day 0.
    ASSERT_TRUE(old->Exec(absl::StrCat(
                            "INSERT INTO rollups (tenant, journey, journey_version,"
                            " touchpoint, stage, channel, day, events, csat_5)"
                            " VALUES ('acme', 'switching', 1, 'web_site',"
                            " 'research', 'web', ", testing::kMarch1, ", 2, 2);"
                            "INSERT INTO counted_events (tenant, customer_hash,"
                            " sequence, journey, journey_version, touchpoint,"
                            " stage, channel, day, csat) VALUES"
                            " ('acme', 'anna', 1, 'switching', 1, 'web_site',"
                            " 'research', 'web', ", testing::kMarch1, ", 5),"
                            " ('acme', 'bert', 2, 'switching', 1, 'web_site',"
                            " 'research', 'web', ", testing::kMarch1, ", 5);"
                            "UPDATE checkpoint SET sequence = 2"))
                    .ok());
  }
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*Connect(db->location())->SchemaVersion("insight"),
            static_cast<int>(PgRollupStore::Migrations().size()));
  EXPECT_EQ(*store->Checkpoint(), 2);
  absl::StatusOr<std::map<std::string, int64_t>> checkpoints =
      store->ProjectionCheckpoints();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  EXPECT_EQ(*checkpoints,
            (std::map<std::string, int64_t>{{"ledger", 2}, {"rollups", 2}}));
  ScorecardQuery query{.tenant = "acme", .journey = "switching"};
  int64_t old_events = 0;
  ASSERT_TRUE(store->ScanLedger(query, [&](const CountedEvent& event) {
                   EXPECT_EQ(event.occurred_at_micros,
                             MidnightMicros(testing::kMarch1));
                   EXPECT_EQ(event.comment, "");
                   ++old_events;
                   return absl::OkStatus();
                 })
                  .ok());
  EXPECT_EQ(old_events, 2);
  ASSERT_TRUE(store->Apply(Page({{.sequence = 3, .csat = 1}})).ok());
  v1::Erasure anna;
  anna.set_sequence(4);
  anna.set_tenant("acme");
  anna.set_customer_hash("anna");
  ASSERT_TRUE(store->ApplyErasure(anna).ok());
  absl::StatusOr<GroupedRollups> rollups = store->Scorecard(query);
  ASSERT_TRUE(rollups.ok()) << rollups.status();
  ASSERT_EQ(rollups->groups.size(), 1u);
  EXPECT_EQ(rollups->groups[0].events, 2);
  EXPECT_EQ(rollups->groups[0].csat, (stats::CsatHistogram{1, 0, 0, 0, 1}));
}

// A database of schema version 2 (an attribute index of (attribute,
// sequence) alone) migrates through versions 3 and 4: the index is rebuilt
// from the ledger, in chunks, and filtered scorecards answer the same before
// (reading the journey's ledger) and after it has caught up.
TEST(PgRollupStoreTest, AVersion2DatabaseRebuildsItsAttributeIndex) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  {
    std::unique_ptr<postgres::Connection> old = Connect(db->location());
    ASSERT_NE(old, nullptr);
    ASSERT_TRUE(old->Migrate("insight", {PgRollupStore::Migrations()[0],
                                         PgRollupStore::Migrations()[1]})
                    .ok());
    // What version 2's Apply wrote for two events of day 0, one per store.
    const std::string day = absl::StrCat(testing::kMarch1);
    ASSERT_TRUE(
        old->Exec(absl::StrCat(
                      "INSERT INTO rollups (tenant, journey, journey_version,"
                      " touchpoint, stage, channel, day, events, csat_1,"
                      " csat_5) VALUES ('acme', 'switching', 1, 'web_site',"
                      " 'research', 'web', ", day, ", 2, 1, 1);"
                      "INSERT INTO counted_events (tenant, customer_hash,"
                      " sequence, journey, journey_version, touchpoint, stage,"
                      " channel, day, csat, attributes) VALUES"
                      " ('acme', 'anna', 1, 'switching', 1, 'web_site',"
                      " 'research', 'web', ", day, ", 5, 'store_id=a'),"
                      " ('acme', 'bert', 2, 'switching', 1, 'web_site',"
                      " 'research', 'web', ", day, ", 1, 'store_id=b');"
                      "INSERT INTO ledger_attributes (attribute, sequence)"
                      " VALUES (",
                      AttributeKey("acme", "switching", "store_id", "a"),
                      ", 1), (",
                      AttributeKey("acme", "switching", "store_id", "b"),
                      ", 2);"
                      "UPDATE checkpoint SET sequence = 2;"
                      "UPDATE projection_checkpoints SET sequence = 2;"
                      "INSERT INTO projection_checkpoints VALUES"
                      " ('attribute_index', 2)"))
            .ok());
  }
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*Connect(db->location())->SchemaVersion("insight"),
            static_cast<int>(PgRollupStore::Migrations().size()));
  absl::StatusOr<std::map<std::string, int64_t>> checkpoints =
      store->ProjectionCheckpoints();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  EXPECT_EQ(*checkpoints,
            (std::map<std::string, int64_t>{{"ledger", 2}, {"rollups", 2}}));
  const ScorecardQuery query{.tenant = "acme",
                             .journey = "switching",
                             .attributes = {{"store_id", "a"}}};
  const auto expect_store_a = [&] {
    absl::StatusOr<GroupedRollups> rollups = store->Scorecard(query);
    ASSERT_TRUE(rollups.ok()) << rollups.status();
    ASSERT_EQ(rollups->groups.size(), 1u);
    EXPECT_EQ(rollups->groups[0].events, 1);
    EXPECT_EQ(rollups->groups[0].csat, (stats::CsatHistogram{0, 0, 0, 0, 1}));
  };
  expect_store_a();
  while (true) {
    absl::StatusOr<bool> behind = store->CatchUpStep(/*max_events=*/1);
    ASSERT_TRUE(behind.ok()) << behind.status();
    if (!*behind) break;
  }
  // A chunk per catch-up step of one event.
  EXPECT_EQ(db->IndexedSequences(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(db->AttributeChunks().size(), 2u);
  expect_store_a();
}

TEST(PgRollupStoreTest, AlertsAndFeedBindingAreSharedByReplicas) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> a = db->Open();
  std::unique_ptr<RollupStore> b = db->Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->CheckFeed("feed-1").ok());
  EXPECT_TRUE(b->CheckFeed("feed-1").ok());
  EXPECT_EQ(b->CheckFeed("feed-2").code(),
            absl::StatusCode::kFailedPrecondition);
  v1::Alert alert;
  alert.set_id("a1");
  alert.set_journey("switching");
  alert.mutable_first_seen()->set_seconds(100);
  ASSERT_TRUE(a->SaveAlerts("acme", {alert}).ok());
  absl::StatusOr<std::vector<v1::Alert>> seen = b->LoadAlerts("acme", "", true);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].first_seen().seconds(), 100);
}

// The checkpoint lock is held while a page is written, so its round trips
// are every replica's wait: a page of 400 events, or an erasure of a
// customer with 200, costs the statements of a few. Counted by
// pg_stat_statements, which needs a restart to load (hence a server of its
// own).
TEST(PgRollupStoreTest, AnApplyCostsTheSameStatementsWhateverItsSize) {
  absl::StatusOr<std::unique_ptr<postgres::TestServer>> server =
      postgres::TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->CreateDatabase("insight").ok());
  const std::string url = (*server)->Url("insight");
  {
    std::unique_ptr<postgres::Connection> admin = Connect(url);
    ASSERT_NE(admin, nullptr);
    ASSERT_TRUE(admin
                    ->Exec("ALTER SYSTEM SET shared_preload_libraries = "
                           "'pg_stat_statements'")
                    .ok());
  }
  ASSERT_TRUE((*server)->Kill().ok());
  ASSERT_TRUE((*server)->Restart().ok());
  std::unique_ptr<postgres::Connection> counter = Connect(url);
  ASSERT_NE(counter, nullptr);
  ASSERT_TRUE(counter->Exec("CREATE EXTENSION pg_stat_statements").ok());
  absl::StatusOr<std::unique_ptr<PgRollupStore>> store =
      PgRollupStore::Open(url, {.connections = 1});
  ASSERT_TRUE(store.ok()) << store.status();
  // The statements run since the last call, this counter's own left out.
  const auto statements_since = [&]() -> int64_t {
    absl::StatusOr<postgres::Result> counted = counter->Execute(
        "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements"
        " WHERE query NOT LIKE '%pg_stat_statements%'");
    EXPECT_TRUE(counted.ok()) << counted.status();
    EXPECT_TRUE(counter->Execute("SELECT pg_stat_statements_reset()").ok());
    return counted.ok() ? counted->Int(0, 0) : -1;
  };
  // An event with every score, a measure and an attribute.
  const auto event = [](int64_t sequence, int day, const std::string& customer,
                        const std::string& touchpoint = "web_site") {
    return EventSpec{.sequence = sequence,
                     .touchpoint = touchpoint,
                     .offset_seconds = 86'400 * day + 3600,
                     .csat = 1 + static_cast<int>(sequence % 5),
                     .nps = static_cast<int>(sequence % 11),
                     .ces = 1 + static_cast<int>(sequence % 7),
                     .measures = {{"wait_seconds", 1.5 * sequence}},
                     .attributes = {{"store_id", "hki-01"}},
                     .customer_hash = customer};
  };
  // Opens the store's connection.
  ASSERT_TRUE((*store)->Apply(Page({event(1, 0, "warm")})).ok());
  statements_since();

  // The customers "few" and "many" each have a rollup row shared with
  // "warm" (day 0, left with its measure sums when they are erased) and rows
  // of their own (deleted with theirs).
  ASSERT_TRUE((*store)
                  ->Apply(Page({event(2, 0, "few"), event(3, -1, "few"),
                                event(4, 0, "others", "other_site")}))
                  .ok());
  const int64_t few = statements_since();
  std::vector<EventSpec> specs;
  for (int i = 0; i < 200; ++i) {
    specs.push_back(event(5 + 2 * i, i, "many"));
    specs.push_back(event(6 + 2 * i, i, "others", "other_site"));
  }
  ASSERT_TRUE((*store)->Apply(Page(specs)).ok());
  const int64_t many = statements_since();
  EXPECT_GT(few, 0);
  EXPECT_EQ(many, few) << "a page of 400 events cost " << many
                       << " statements, one of 3 " << few;

  v1::Erasure erasure;
  erasure.set_tenant("acme");
  erasure.set_sequence(1000);
  erasure.set_customer_hash("few");
  ASSERT_TRUE((*store)->ApplyErasure(erasure).ok());
  const int64_t erased_few = statements_since();
  erasure.set_sequence(1001);
  erasure.set_customer_hash("many");
  ASSERT_TRUE((*store)->ApplyErasure(erasure).ok());
  const int64_t erased_many = statements_since();
  EXPECT_GT(erased_few, 0);
  EXPECT_EQ(erased_many, erased_few)
      << "erasing 200 events cost " << erased_many << " statements, 2 "
      << erased_few;
  const ScorecardQuery query{.tenant = "acme", .journey = "switching"};
  absl::StatusOr<GroupedRollups> left = (*store)->Scorecard(query);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->groups.size(), 2u);
  EXPECT_EQ(left->groups[0].group, "other_site");
  EXPECT_EQ(left->groups[0].events, 201);
  EXPECT_EQ(left->groups[1].events, 1);
}

// counted_events is written with a plain INSERT: should the checkpoint ever
// fall behind what was counted, the page fails instead of counting again.
TEST(PgRollupStoreTest, AnEventCountedTwiceFailsThePage) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Apply(NumberedPage(1, 20)).ok());
  std::unique_ptr<postgres::Connection> admin = Connect(db->location());
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Exec("UPDATE checkpoint SET sequence = 10").ok());
  const std::vector<std::string> counted = db->Dump();

  absl::Status again = store->Apply(NumberedPage(1, 30));
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_EQ(testing::FirstDifference(db->Dump(), counted), "");
  EXPECT_EQ(*store->Checkpoint(), 10);
}

// Scores reach counted_events through arrays that cannot hold NULL: an
// absent score must still be NULL there (as on SQLite), and a score of 0 a 0.
TEST(PgRollupStoreTest, AbsentScoresAreCountedAsNull) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kPostgres);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Apply(Page({{.sequence = 1, .csat = 5, .nps = 0, .ces = 7},
                                {.sequence = 2, .nps = 10},
                                {.sequence = 3}}))
                  .ok());
  std::unique_ptr<postgres::Connection> check = Connect(db->location());
  ASSERT_NE(check, nullptr);
  absl::StatusOr<postgres::Result> rows = check->Execute(
      "SELECT concat_ws(',', sequence, COALESCE(csat::text, 'null'),"
      " COALESCE(nps::text, 'null'), COALESCE(ces::text, 'null'))"
      " FROM counted_events ORDER BY sequence");
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> counted;
  for (int row = 0; row < rows->rows(); ++row) {
    counted.push_back(rows->Text(row, 0));
  }
  EXPECT_THAT(counted, ::testing::ElementsAre("1,5,0,7", "2,null,10,null",
                                              "3,null,null,null"));
}

TEST(RollupStoreFactoryTest, EmptyUrlIsSqliteUnderTheDataDirectory) {
  const std::string dir = testing::ScratchDir() + "/data";
  absl::StatusOr<std::unique_ptr<RollupStore>> store = OpenRollupStore("", dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_NE(dynamic_cast<SqliteRollupStore*>(store->get()), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir + "/insight.db"));
}

TEST(RollupStoreFactoryTest, PostgresUrlIsPostgres) {
  absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  ASSERT_THAT(*url, ::testing::StartsWith("postgresql://"));
  absl::StatusOr<std::unique_ptr<RollupStore>> store =
      OpenRollupStore(*url, "/nonexistent-not-used");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_NE(dynamic_cast<PgRollupStore*>(store->get()), nullptr);
  ASSERT_TRUE((*store)->Apply(NumberedPage(1, 3)).ok());
  EXPECT_EQ(*(*store)->Checkpoint(), 3);
}

TEST(RollupStoreFactoryTest, OtherUrlsAreRefusedWithoutEchoingThem) {
  absl::StatusOr<std::unique_ptr<RollupStore>> store =
      OpenRollupStore("mysql://polku:s3cret@db/insight", "/tmp");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("postgres://"));
  EXPECT_THAT(store.status().message(), ::testing::Not(HasSubstr("s3cret")));
}

TEST(RollupStoreFactoryTest, WaitingForAnUnreachableServerCanBeCancelled) {
  // Stopped before it starts: one attempt, then the wait ends instead of
  // backing off.
  absl::Notification cancelled;
  cancelled.Notify();
  const std::string url = absl::StrCat(
      "postgresql:///insight?host=", testing::ScratchDir(), "&user=postgres");
  absl::StatusOr<std::unique_ptr<RollupStore>> store =
      OpenRollupStore(url, "", &cancelled);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kCancelled)
      << store.status();
}

}  // namespace
}  // namespace polku::insight
