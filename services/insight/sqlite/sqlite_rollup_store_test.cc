// What only the SQLite RollupStore has: the counted-events ledger's query
// plans, and databases written by older versions of the schema.
#include "services/insight/sqlite/sqlite_rollup_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/sqlite/sqlite.h"
#include "services/insight/store/rollup_conformance_util.h"
#include "services/insight/store/sql_text.h"

namespace polku::insight {
namespace {

using testing::Backend;
using testing::DeliverPage;
using testing::Entry;
using testing::FirstDifference;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Queries;
using testing::ScorecardOf;
using testing::TestDatabase;

std::unique_ptr<sqlite::Database> OpenFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
      sqlite::Database::Open(path);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

// The plan SQLite chooses for `sql`, one line per step.
std::string QueryPlan(sqlite::Database& db, const std::string& sql) {
  absl::StatusOr<sqlite::Statement*> explain =
      db.Prepare(absl::StrCat("EXPLAIN QUERY PLAN ", sql));
  EXPECT_TRUE(explain.ok()) << explain.status();
  if (!explain.ok()) return "";
  std::string plan;
  while (true) {
    absl::StatusOr<bool> row = (*explain)->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || !*row) break;
    absl::StrAppend(&plan, (*explain)->ColumnText(3), "\n");
  }
  (*explain)->Reset();
  return plan;
}

void ExpectErasureUsesTheCustomerIndex(const std::string& path) {
  std::unique_ptr<sqlite::Database> db = OpenFile(path);
  ASSERT_NE(db, nullptr);
  // A scan here would read the whole ledger for every erasure: one seek per
  // segment, on both of the index's columns, instead.
  for (const std::string& sql : {SqliteRollupStore::CustomerEventsSql(),
                                 SqliteRollupStore::ForgetCustomerSql()}) {
    const std::string plan = QueryPlan(*db, sql);
    EXPECT_THAT(plan, HasSubstr("SEARCH counted_events USING INDEX "
                                "counted_events_by_customer"
                                " (<expr>=? AND <expr>=?)"))
        << sql;
    EXPECT_THAT(plan, Not(HasSubstr("SCAN counted_events"))) << sql;
  }
}

int64_t CountedEventsOf(const std::string& path, const v1::Erasure& customer) {
  std::unique_ptr<sqlite::Database> db = OpenFile(path);
  if (db == nullptr) return -1;
  absl::StatusOr<sqlite::Statement*> count = db->Prepare(
      "SELECT COUNT(*) FROM counted_events"
      " WHERE tenant = ?1 AND customer_hash = ?2");
  EXPECT_TRUE(count.ok()) << count.status();
  if (!count.ok()) return -1;
  (*count)->Bind(1, customer.tenant()).Bind(2, customer.customer_hash());
  absl::StatusOr<bool> row = (*count)->Step();
  EXPECT_TRUE(row.ok() && *row) << row.status();
  return row.ok() && *row ? (*count)->ColumnInt(0) : -1;
}

TEST(SqliteRollupStoreTest, AnErasureFindsTheCustomerThroughTheIndex) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kSqlite);
  ASSERT_NE(db, nullptr);
  ASSERT_NE(db->Open(), nullptr);  // creates and migrates
  ExpectErasureUsesTheCustomerIndex(db->location());
}

// A database written by schema version `version` opens, migrates, and then
// answers and erases exactly as one written by the current code all along.
void ExpectMigratesWithItsLedger(int version) {
  testing::FeedSimulation simulation(/*seed=*/20240301);
  std::vector<Entry> feed = simulation.Generate(400);
  const size_t half = feed.size() / 2;
  // After the migration: an erasure of a customer counted before it.
  size_t last_counted = half - 1;
  while (feed[last_counted].erasure) --last_counted;
  v1::Erasure customer;
  customer.set_sequence(feed.back().sequence() + 1);
  customer.set_tenant(feed[last_counted].event.tenant());
  customer.set_customer_hash(feed[last_counted].event.customer_hash());
  feed.push_back({.erasure = customer});

  // The current code counts the first half of the feed.
  std::unique_ptr<TestDatabase> current =
      TestDatabase::Create(Backend::kSqlite);
  ASSERT_NE(current, nullptr);
  std::unique_ptr<RollupStore> current_store = current->Open();
  ASSERT_NE(current_store, nullptr);
  size_t position = 0;
  while (position < half) {
    ASSERT_TRUE(DeliverPage(*current_store, feed, half, 50, &position).ok());
  }
  const size_t migrated_at = position;

  // The same rows in an older database: versions 3 and 4's Apply wrote
  // exactly these values, only their ledger's table or customer index were
  // keyed otherwise.
  std::unique_ptr<TestDatabase> old = TestDatabase::Create(Backend::kSqlite);
  ASSERT_NE(old, nullptr);
  {
    std::unique_ptr<sqlite::Database> db = OpenFile(old->location());
    ASSERT_NE(db, nullptr);
    const std::vector<sqlite::Migration>& schema =
        SqliteRollupStore::Migrations();
    ASSERT_LT(static_cast<size_t>(version), schema.size());
    ASSERT_TRUE(db->Migrate(std::vector<sqlite::Migration>(
                                schema.begin(), schema.begin() + version))
                    .ok());
    ASSERT_EQ(*db->SchemaVersion(), version);
    const std::string ledger_columns =
        "tenant, customer_hash, sequence, journey, journey_version,"
        " touchpoint, stage, channel, day, csat, nps, ces, attributes,"
        " measures";
    const std::string indexed_columns =  // all but the customer hash
        "tenant, sequence, journey, journey_version, touchpoint, stage,"
        " channel, day, csat, nps, ces, attributes, measures";
    absl::Status copied = db->Exec(absl::StrCat(
        "ATTACH DATABASE '", current->location(), "' AS current;",
        "INSERT INTO rollups SELECT * FROM current.rollups;",
        "INSERT INTO rollup_measures SELECT * FROM current.rollup_measures;",
        "INSERT INTO counted_events (", ledger_columns, ") SELECT ",
        ledger_columns, " FROM current.counted_events;",
        "UPDATE checkpoint SET sequence ="
        " (SELECT sequence FROM current.checkpoint);",
        // Version 6 kept the details, the projections' checkpoints and an
        // attribute index of a row per event and attribute (the attribute
        // is not checked by anything: any value will do, as the index is
        // dropped by version 8); version 7's rows carry the ledger's columns.
        version >= 6 ? "INSERT INTO event_details"
                       " SELECT * FROM current.event_details;"
                       "DELETE FROM projection_checkpoints;"
                       "INSERT INTO projection_checkpoints"
                       " SELECT * FROM current.projection_checkpoints;"
                     : "",
        version == 6 ? "INSERT INTO ledger_attributes (attribute, sequence)"
                       " SELECT 0, sequence FROM current.counted_events;"
                     : "",
        version == 7
            ? absl::StrCat("INSERT INTO ledger_attributes (attribute,",
                           indexed_columns, ") SELECT 0,", indexed_columns,
                           " FROM current.counted_events;")
            : "",
        "DETACH DATABASE current;"));
    ASSERT_TRUE(copied.ok()) << copied;
  }
  const int64_t erased_before = CountedEventsOf(old->location(), customer);
  ASSERT_GT(erased_before, 0);

  std::unique_ptr<RollupStore> migrated = old->Open();
  ASSERT_NE(migrated, nullptr);
  EXPECT_EQ(*OpenFile(old->location())->SchemaVersion(),
            static_cast<int>(SqliteRollupStore::Migrations().size()));
  ExpectErasureUsesTheCustomerIndex(old->location());
  EXPECT_EQ(FirstDifference(old->Dump(), current->Dump()), "");
  // Versions 7 and 8 rebuild the attribute index: it starts over.
  absl::StatusOr<std::map<std::string, int64_t>> checkpoints =
      migrated->ProjectionCheckpoints();
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  EXPECT_FALSE(checkpoints->contains("attribute_index"));
  // Counted before version 6 kept no details: such an event reads as
  // occurring at its day's midnight, without a comment (docs/ingestion.md).
  if (version < 6) {
    int64_t without_details = 0;
    ASSERT_TRUE(migrated
                    ->ScanLedger({.tenant = "acme", .journey = "switching"},
                                 [&](const CountedEvent& event) {
                                   EXPECT_EQ(
                                       event.occurred_at_micros,
                                       MidnightMicros(std::get<6>(event.key)));
                                   EXPECT_EQ(event.comment, "");
                                   ++without_details;
                                   return absl::OkStatus();
                                 })
                    .ok());
    EXPECT_GT(without_details, 0);
  }

  // The rest of the feed, erasures included, on both.
  size_t migrated_position = migrated_at;
  while (position < feed.size()) {
    ASSERT_TRUE(
        DeliverPage(*current_store, feed, feed.size(), 50, &position).ok());
  }
  while (migrated_position < feed.size()) {
    ASSERT_TRUE(
        DeliverPage(*migrated, feed, feed.size(), 50, &migrated_position).ok());
  }
  EXPECT_EQ(CountedEventsOf(old->location(), customer), 0);
  EXPECT_EQ(FirstDifference(old->Dump(), current->Dump()), "");
  for (const ScorecardQuery& query : Queries()) {
    ASSERT_EQ(ScorecardOf(*migrated, query), ScorecardOf(*current_store, query))
        << query.tenant << " " << query.journey << " "
        << static_cast<int>(query.group_by);
  }
  // The attribute index, new in version 6 and rebuilt by versions 7 and 8,
  // catches up from the ledger; the attribute-filtered answers it then
  // gives are the same.
  while (true) {
    absl::StatusOr<bool> behind = migrated->CatchUpStep(/*max_events=*/64);
    ASSERT_TRUE(behind.ok()) << behind.status();
    if (!*behind) break;
  }
  for (const ScorecardQuery& query : Queries()) {
    ASSERT_EQ(ScorecardOf(*migrated, query), ScorecardOf(*current_store, query))
        << "after catching up: " << query.tenant << " " << query.journey << " "
        << static_cast<int>(query.group_by);
  }
}

// SQLite's plan of `sql` on a new database; empty if it cannot be had.
std::string PlanOnANewDatabase(const std::string& sql) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kSqlite);
  if (db == nullptr || db->Open() == nullptr) return "";
  std::unique_ptr<sqlite::Database> file = OpenFile(db->location());
  if (file == nullptr) return "";
  return QueryPlan(*file, sql);
}

// A scorecard filtered by an attribute reads the chunks of that value, one
// range of their index, and nothing else: not the journey's whole ledger.
TEST(SqliteRollupStoreTest, AnAttributeFilterReadsOnlyItsValuesChunks) {
  const std::string plan =
      PlanOnANewDatabase(SqliteRollupStore::AttributeChunksSql());
  ASSERT_FALSE(plan.empty());
  EXPECT_THAT(plan, HasSubstr("SEARCH ledger_attribute_chunks USING INDEX"
                              " ledger_attribute_chunks_by_attribute"
                              " (attribute=?)"));
  EXPECT_THAT(plan, Not(HasSubstr("SCAN")));
  EXPECT_THAT(plan, Not(HasSubstr("TEMP B-TREE")));  // in the index's order
}

// With details (what the analytics of single events read), each event the
// chunks name is then read with its details by its key.
TEST(SqliteRollupStoreTest, AnAttributeFilterWithDetailsReadsEachEventByKey) {
  const std::string plan =
      PlanOnANewDatabase(SqliteRollupStore::LedgerEventAtSql());
  ASSERT_FALSE(plan.empty());
  EXPECT_THAT(plan, HasSubstr("SEARCH c USING INTEGER PRIMARY KEY"));
  EXPECT_THAT(plan, HasSubstr("SEARCH d USING INTEGER PRIMARY KEY"));
  EXPECT_THAT(plan, Not(HasSubstr("SCAN")));
}

// Version 3: the ledger keyed by customer.
TEST(SqliteRollupStoreTest, AVersion3DatabaseMigratesWithItsLedger) {
  ExpectMigratesWithItsLedger(3);
}

// Version 4: the customer index keyed by the customer hash alone.
TEST(SqliteRollupStoreTest, AVersion4DatabaseMigratesWithItsLedger) {
  ExpectMigratesWithItsLedger(4);
}

// Version 5: the ledger without event details or projection checkpoints.
TEST(SqliteRollupStoreTest, AVersion5DatabaseMigratesWithItsLedger) {
  ExpectMigratesWithItsLedger(5);
}

// Version 6: the attribute index without the columns a scorecard counts.
TEST(SqliteRollupStoreTest, AVersion6DatabaseMigratesWithItsLedger) {
  ExpectMigratesWithItsLedger(6);
}

// Version 7: the attribute index a row per event and attribute.
TEST(SqliteRollupStoreTest, AVersion7DatabaseMigratesWithItsLedger) {
  ExpectMigratesWithItsLedger(7);
}

// The customer index is segmented by sequence: an erasure must find the
// customer's events in every segment, the empty ones between skipped, and
// nobody else's (these two customers' hashes share their first 8
// characters, the index's key).
TEST(SqliteRollupStoreTest, AnErasureFindsTheCustomerInEverySegment) {
  std::unique_ptr<TestDatabase> db = TestDatabase::Create(Backend::kSqlite);
  ASSERT_NE(db, nullptr);
  std::unique_ptr<RollupStore> store = db->Open();
  ASSERT_NE(store, nullptr);
  // Only the other customer's events, counted elsewhere.
  std::unique_ptr<TestDatabase> expected_db =
      TestDatabase::Create(Backend::kSqlite);
  ASSERT_NE(expected_db, nullptr);
  std::unique_ptr<RollupStore> expected = expected_db->Open();
  ASSERT_NE(expected, nullptr);

  v1::Erasure erased;
  erased.set_tenant("acme");
  erased.set_customer_hash("customer-1");
  // Before anything is counted the ledger has no segment: nothing to find.
  erased.set_sequence(1);
  ASSERT_TRUE(store->ApplyErasure(erased).ok());

  // Segments 0, 1, 2 and 4 (sequence >> 12); 3 is empty.
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page, others;
  for (int64_t sequence : {2, 5000, 9000, 20000}) {
    *page.Add() = testing::MakeEvent({.sequence = sequence,
                                      .nps = static_cast<int>(sequence % 11),
                                      .customer_hash = "customer-1"});
    v1::StoredEvent other = testing::MakeEvent(
        {.sequence = sequence + 1, .nps = 10, .customer_hash = "customer-2"});
    *page.Add() = other;
    *others.Add() = other;
  }
  ASSERT_TRUE(store->Apply(page).ok());
  ASSERT_TRUE(expected->Apply(others).ok());
  ASSERT_EQ(CountedEventsOf(db->location(), erased), 4);

  erased.set_sequence(20002);
  ASSERT_TRUE(store->ApplyErasure(erased).ok());
  ASSERT_TRUE(expected->ApplyErasure(erased).ok());
  EXPECT_EQ(CountedEventsOf(db->location(), erased), 0);
  v1::Erasure kept = erased;
  kept.set_customer_hash("customer-2");
  EXPECT_EQ(CountedEventsOf(db->location(), kept), 4);
  EXPECT_EQ(FirstDifference(db->Dump(), expected_db->Dump()), "");
}

}  // namespace
}  // namespace polku::insight
