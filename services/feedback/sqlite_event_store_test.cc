// What only the SQLite store has: a file on disk, its pragmas, its indexes,
// and rows written by an older version. Everything else it must do is
// in event_store_conformance_test.cc, shared with PostgreSQL.
#include "services/feedback/sqlite_event_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/feedback/event_store_test_util.h"
#include "services/feedback/group_commit_store.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::StoredEvent;
using testing::Batch;
using testing::Erase;
using testing::Event;

// The first row's first column of `sql`, as text.
std::string QueryText(sqlite::Database& db, const std::string& sql) {
  auto query = db.Prepare(sql);
  EXPECT_TRUE(query.ok()) << query.status();
  if (!query.ok()) return "";
  auto row = (*query)->Step();
  EXPECT_TRUE(row.ok()) << row.status();
  std::string value = row.ok() && *row ? (*query)->ColumnText(0) : "";
  (*query)->Reset();
  return value;
}

TEST(CustomerKeyTest, IsTheHashsFirstEightBytesAsASignedInteger) {
  const std::string rest(48, 'e');
  EXPECT_EQ(CustomerKey("0000000000000001" + rest), 1);
  EXPECT_EQ(CustomerKey("00000000000000ff" + rest), 255);
  EXPECT_EQ(CustomerKey("7fffffffffffffff" + rest),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(CustomerKey("8000000000000000" + rest),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(CustomerKey("ffffffffffffffff" + rest), -1);
  // Not a hash.
  EXPECT_EQ(CustomerKey("0123456789abcde"), std::nullopt);
  EXPECT_EQ(CustomerKey("0x23456789abcdef" + rest), std::nullopt);
  EXPECT_EQ(CustomerKey("-123456789abcdef" + rest), std::nullopt);
  EXPECT_EQ(CustomerKey(" 123456789abcdef" + rest), std::nullopt);
}

class SqliteEventStoreTest : public ::testing::Test {
 protected:
  SqliteEventStoreTest()
      : dir_(testing::ScratchDir()), path_(dir_ + "/feedback.db") {
    Reopen();
  }

  void Reopen() {
    store_.reset();
    SqliteEventStoreOptions options;
    options.group_commit.clock = &clock_;
    auto store = SqliteEventStore::Open(
        path_, CustomerHasher(testing::TestSecret()), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  absl::StatusOr<std::vector<EventResult>> Submit(EventBatch batch) {
    return testing::SubmitAndWait(*store_, std::move(batch));
  }

  std::vector<StoredEvent> Feed() { return testing::StoredEvents(*store_); }

  FakeClock clock_{absl::FromUnixSeconds(1'714'564'800)};
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteEventStore> store_;
};

TEST_F(SqliteEventStoreTest, TheProductionOpenIsDurable) {
  // The fixture opens like main.cc does (default options).
  EXPECT_EQ(store_->durability().synchronous, 2);  // FULL
  EXPECT_EQ(store_->durability().journal_mode, "wal");
}

TEST_F(SqliteEventStoreTest, TheCustomerReferenceIsNeverStoredInTheClear) {
  const std::string customer = "customer-7f3a@example.fi";
  ASSERT_TRUE(Submit(Batch({Event("e-1", 4, customer)})).ok());
  const std::string hash = Feed()[0].customer_hash();
  store_.reset();  // close: the WAL is folded into the main file

  std::string everything;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    std::ifstream file(entry.path(), std::ios::binary);
    everything.append(std::istreambuf_iterator<char>(file), {});
  }
  EXPECT_EQ(everything.find(customer), std::string::npos);
  EXPECT_NE(everything.find(hash), std::string::npos);  // the scan sees rows
}

TEST_F(SqliteEventStoreTest, FingerprintsOfAnOlderVersionAreKeyedOnOpen) {
  ASSERT_TRUE(Submit(Batch({Event("e-1")})).ok());
  store_.reset();
  {
    // As written before fingerprints were keyed: some other digest, and no
    // marker.
    auto db = sqlite::Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE events SET fingerprint = x'00'; "
                           "DELETE FROM feed_meta WHERE key = 'fingerprints'")
                    .ok());
  }
  Reopen();
  auto again = Submit(Batch({Event("e-1")}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), 1);
}

// The steps of `sql`'s query plan.
std::vector<std::string> QueryPlan(sqlite::Database& db,
                                   const std::string& sql) {
  std::vector<std::string> steps;
  auto plan = db.Prepare(absl::StrCat("EXPLAIN QUERY PLAN ", sql));
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return steps;
  EXPECT_TRUE((*plan)
                  ->ForEachRow([&](const sqlite::Statement& row) {
                    steps.push_back(row.ColumnText(3));
                    return absl::OkStatus();
                  })
                  .ok());
  return steps;
}

TEST_F(SqliteEventStoreTest, AnErasureFindsTheCustomersEventsByTheirKey) {
  // A table scan would make every erasure as slow as the table is long.
  auto db = sqlite::Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  for (const std::string& sql : {SqliteEventStore::KeepErasedKeysSql(),
                                 SqliteEventStore::EraseEventsSql()}) {
    const std::vector<std::string> steps = QueryPlan(**db, sql);
    EXPECT_THAT(steps,
                ::testing::Contains(
                    "SEARCH events USING INDEX events_by_segment_and_customer "
                    "(<expr>=? AND customer_key=?)"))
        << sql;
    EXPECT_THAT(steps, ::testing::Not(::testing::Contains(
                           ::testing::HasSubstr("SCAN events"))))
        << sql;
  }
}

TEST_F(SqliteEventStoreTest, OpeningLooksForRowsWithoutACustomerKeyByIndex) {
  // A scan here would read the whole table at every start.
  auto db = sqlite::Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_THAT(QueryPlan(**db, SqliteEventStore::kRowsWithoutCustomerKeySql),
              ::testing::ElementsAre(
                  "SCAN events USING INDEX events_without_customer_key"));
}

TEST_F(SqliteEventStoreTest, ADatabaseOfSchemaVersion2OpensAndErases) {
  store_.reset();
  path_ = dir_ + "/v2.db";
  const CustomerHasher hasher(testing::TestSecret());
  std::vector<PreparedEvent> written;
  {
    // As the code of schema version 2 wrote it: the first two migrations,
    // and rows without a customer key. More rows than FillCustomerKeys
    // takes in one slice, with the customer to erase last.
    auto db = sqlite::Database::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status();
    const std::vector<sqlite::Migration> version_2(
        SqliteEventStore::Migrations().begin(),
        SqliteEventStore::Migrations().begin() + 2);
    ASSERT_TRUE((*db)->Migrate(version_2).ok());
    sqlite::Transaction transaction(**db);
    ASSERT_TRUE(transaction.Begin().ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO feed_meta (key, value) "
                           "VALUES ('fingerprints', 'keyed')")
                    .ok());
    for (int i = 0; i < 10'002; ++i) {
      // Carl's events sit among Bert's, in every segment.
      const std::string customer =
          i >= 10'000 ? "anna" : (i % 1000 == 999 ? "carl" : "bert");
      written.push_back(PrepareEvent(hasher.ForTenant("demo"), "demo", "shop",
                                     Event(absl::StrCat("e-", i), 4, customer),
                                     clock_.Now()));
      const PreparedEvent& event = written.back();
      auto insert = (*db)->Prepare(
          "INSERT INTO events (tenant, channel, event_id, fingerprint,"
          " customer_hash, occurred_at, received_at, journey,"
          " journey_version, stage, touchpoint, payload)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
      ASSERT_TRUE(insert.ok()) << insert.status();
      ASSERT_TRUE((*insert)
                      ->Bind(1, "demo")
                      .Bind(2, "shop")
                      .Bind(3, event.event_id)
                      .BindBlob(4, event.fingerprint)
                      .Bind(5, event.customer_hash)
                      .Bind(6, event.occurred_at)
                      .Bind(7, absl::ToUnixMicros(clock_.Now()))
                      .Bind(8, event.where.journey)
                      .Bind(9, int64_t{event.where.journey_version})
                      .Bind(10, event.where.stage)
                      .Bind(11, event.touchpoint)
                      .BindBlob(12, event.payload)
                      .Run()
                      .ok());
    }
    ASSERT_TRUE(transaction.Commit().ok());
  }
  Reopen();
  {
    auto db = sqlite::Database::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ(QueryText(**db,
                        "SELECT count(*) FROM events "
                        "WHERE customer_key IS NULL"),
              "0");
    EXPECT_EQ(QueryText(**db,
                        "SELECT customer_key FROM events WHERE "
                        "sequence = 1"),
              absl::StrCat(*CustomerKey(written[0].customer_hash)));
  }

  auto erased = Erase(*store_, "demo", "anna", /*suppress=*/false);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->erased_events, 2);
  EXPECT_EQ(erased->sequence, 10'003);
  // Their keys were kept: resent, they are duplicates.
  auto again = Submit(Batch({Event("e-10001", 4, "anna")}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome(), EventResult::DUPLICATE);
  EXPECT_EQ((*again)[0].sequence(), 10'002);
  // Bert's events span three segments of the customer index (sequences 1 to
  // 10,000): the erasure finds them all, and only them.
  auto bert = Erase(*store_, "demo", "bert", /*suppress=*/false);
  ASSERT_TRUE(bert.ok()) << bert.status();
  EXPECT_EQ(bert->erased_events, 9'990);

  store_.reset();
  auto db = sqlite::Database::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(QueryText(**db, "SELECT group_concat(sequence) FROM events"),
            "1000,2000,3000,4000,5000,6000,7000,8000,9000,10000");
  EXPECT_EQ(QueryText(**db, "SELECT count(*) FROM erased_event_keys"),
            "9992");
  // Its hex index is gone.
  EXPECT_EQ(QueryText(**db,
                      "SELECT count(*) FROM sqlite_master "
                      "WHERE name = 'events_by_customer'"),
            "0");
}

}  // namespace
}  // namespace polku::feedback
