#include "lib/sqlite/sqlite.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::sqlite {
namespace {

using ::testing::HasSubstr;

// A fresh directory per test, removed afterwards, so file databases (and
// their -wal/-shm files) never leak between tests.
class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("polku_sqlite_", info->name(), "_", getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string PathOf(const std::string& name) const {
    return (dir_ / name).string();
  }

  std::unique_ptr<Database> OpenOrDie(const std::string& path,
                                      const Database::Options& options = {}) {
    absl::StatusOr<std::unique_ptr<Database>> db =
        Database::Open(path, options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  std::filesystem::path dir_;
};

// Commits `transactions` transactions of `rows` rows of `row_bytes` bytes
// each into table t (k INTEGER PRIMARY KEY, v BLOB), calling `after_commit`
// after each commit.
void InsertRows(Database& db, int transactions, int rows, size_t row_bytes,
                const std::function<void()>& after_commit = [] {}) {
  const std::string value(row_bytes, 'v');
  for (int txn = 0; txn < transactions; ++txn) {
    Transaction transaction(db);
    ASSERT_TRUE(transaction.Begin().ok());
    Statement* insert = *db.Prepare("INSERT INTO t (v) VALUES (?1)");
    for (int i = 0; i < rows; ++i) {
      ASSERT_TRUE(insert->BindBlob(1, value).Run().ok());
    }
    ASSERT_TRUE(transaction.Commit().ok());
    after_commit();
  }
}

int64_t CountRows(Database& db, const std::string& table) {
  absl::StatusOr<Statement*> count =
      db.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table));
  EXPECT_TRUE(count.ok()) << count.status();
  absl::StatusOr<bool> row = (*count)->Step();
  EXPECT_TRUE(row.ok() && *row);
  return (*count)->ColumnInt(0);
}

TEST_F(SqliteTest, DurableFileDatabaseUsesWalAndFullSync) {
  auto db = OpenOrDie(PathOf("durable.db"));
  ASSERT_NE(db, nullptr);

  absl::StatusOr<Statement*> mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok()) << mode.status();
  ASSERT_TRUE(*(*mode)->Step());
  EXPECT_EQ((*mode)->ColumnText(0), "wal");

  absl::StatusOr<Statement*> sync = db->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok()) << sync.status();
  ASSERT_TRUE(*(*sync)->Step());
  EXPECT_EQ((*sync)->ColumnInt(0), 2);  // 2 = FULL

  absl::StatusOr<Statement*> fk = db->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok()) << fk.status();
  ASSERT_TRUE(*(*fk)->Step());
  EXPECT_EQ((*fk)->ColumnInt(0), 1);
}

TEST_F(SqliteTest, NonDurableKeepsWalButSkipsSync) {
  Database::Options options;
  options.durable = false;
  auto db = OpenOrDie(PathOf("fast.db"), options);
  ASSERT_NE(db, nullptr);
  Statement* mode = *db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  Statement* sync = *db->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->ColumnInt(0), 0);  // 0 = OFF
}

TEST_F(SqliteTest, CacheSizeIsPerConnectionInMebibytes) {
  Database::Options options;
  options.cache_mib = 64;
  auto db = OpenOrDie(PathOf("cache.db"), options);
  ASSERT_NE(db, nullptr);
  Statement* cache = *db->Prepare("PRAGMA cache_size");
  ASSERT_TRUE(*cache->Step());
  EXPECT_EQ(cache->ColumnInt(0), -64 * 1024);  // negative: KiB
}

// With background checkpoints the writer never checkpoints below 16 000 WAL
// pages, so committed pages can only reach the database file (which starts
// a few pages long) through the checkpointer's thread.
TEST_F(SqliteTest, BackgroundCheckpointsCopyTheWalIntoTheDatabase) {
  Database::Options options;
  options.durable = false;  // fsyncs would only slow the test
  options.background_checkpoints = true;
  const std::string path = PathOf("checkpointed.db");
  auto db = OpenOrDie(path, options);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  // 80 transactions of 100 rows of 1 KiB: about 2 000 pages of 4 KiB.
  ASSERT_NO_FATAL_FAILURE(InsertRows(*db, 80, 100, 1024));
  const auto deadline = absl::Now() + absl::Seconds(30);
  while (std::filesystem::file_size(path) < 4u << 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(std::filesystem::file_size(path), 4u << 20);
  EXPECT_GE(db->background_checkpoints_run(), 1);
  db.reset();  // stops the checkpointer first, then closes

  auto reopened = OpenOrDie(path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(CountRows(*reopened, "t"), 8000);
  EXPECT_EQ(reopened->background_checkpoints_run(), 0);
}

// Under steady writes a checkpoint on another thread never catches up with
// the writer by itself; the WAL must still start over (not grow to the
// writer's backstop of 16 000 pages, 64 MiB).
TEST_F(SqliteTest, UnderSteadyWritesTheWalStartsOver) {
  Database::Options options;  // durable: each commit waits for its fsync
  options.background_checkpoints = true;
  const std::string path = PathOf("steady.db");
  auto db = OpenOrDie(path, options);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  // 400 transactions of 25 rows of 4 KiB: about 10 000 pages, back to back.
  uintmax_t largest_wal = 0;
  ASSERT_NO_FATAL_FAILURE(InsertRows(*db, 400, 25, 4000, [&] {
    largest_wal =
        std::max(largest_wal, std::filesystem::file_size(path + "-wal"));
  }));
  // Started over at least once: far below the ~40 MiB written.
  EXPECT_LT(largest_wal, 16u << 20);
  db.reset();
  auto reopened = OpenOrDie(path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(CountRows(*reopened, "t"), 10000);
}

// A reader's open snapshot stops every checkpoint short of the commits made
// after it; the checkpointer must then wait for the next commit rather than
// try again at once, over and over.
TEST_F(SqliteTest, AnOldReaderDoesNotMakeTheCheckpointerSpin) {
  Database::Options options;
  options.background_checkpoints = true;
  const std::string path = PathOf("pinned.db");
  auto db = OpenOrDie(path, options);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  Database::Options read_only;
  read_only.read_only = true;
  auto reader = OpenOrDie(path, read_only);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Exec("BEGIN").ok());
  EXPECT_EQ(CountRows(*reader, "t"), 0);  // the snapshot is taken here

  constexpr int kCommits = 100;
  ASSERT_NO_FATAL_FAILURE(InsertRows(*db, kCommits, 25, 4000));
  absl::SleepFor(absl::Milliseconds(200));  // room to spin, if it would
  // At most one round per commit (spinning makes thousands).
  EXPECT_LE(db->background_checkpoints_run(), kCommits);
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
}

TEST_F(SqliteTest, InMemoryDatabaseOpens) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
}

TEST_F(SqliteTest, OpenInMissingDirectoryNamesThePath) {
  std::string path = PathOf("no/such/dir/x.db");
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(db.status().message(), HasSubstr(path));
}

TEST_F(SqliteTest, MigrationsAreAppliedOnceAndResumed) {
  const std::string path = PathOf("migrate.db");
  std::vector<Migration> v1 = {
      {1,
       "CREATE TABLE journey (key TEXT PRIMARY KEY);"
       "INSERT INTO journey VALUES ('onboarding');"},
  };
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(*db->SchemaVersion(), 0);
    ASSERT_TRUE(db->Migrate(v1).ok());
    EXPECT_EQ(*db->SchemaVersion(), 1);
    // Running the same list again changes nothing (the INSERT would
    // otherwise fail on the primary key).
    ASSERT_TRUE(db->Migrate(v1).ok());
    EXPECT_EQ(CountRows(*db, "journey"), 1);
  }
  // Reopen with one more migration: only the new one runs.
  std::vector<Migration> v2 = v1;
  v2.push_back({2,
                "ALTER TABLE journey ADD COLUMN title TEXT;"
                "INSERT INTO journey VALUES ('checkout', 'Checkout');"});
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(*db->SchemaVersion(), 1);
    absl::Status status = db->Migrate(v2);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(*db->SchemaVersion(), 2);
    EXPECT_EQ(CountRows(*db, "journey"), 2);
  }
}

TEST_F(SqliteTest, FailedMigrationLeavesSchemaAndVersionUntouched) {
  auto db = OpenOrDie(PathOf("failed.db"));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Migrate({{1, "CREATE TABLE a (x INTEGER)"}}).ok());
  absl::Status status = db->Migrate({
      {1, "CREATE TABLE a (x INTEGER)"},
      {2, "CREATE TABLE b (y INTEGER); THIS IS NOT SQL"},
  });
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("migration 2"));
  EXPECT_EQ(*db->SchemaVersion(), 1);
  // Table b was created inside the rolled-back transaction.
  EXPECT_FALSE(db->Prepare("SELECT y FROM b").ok());
}

TEST_F(SqliteTest, RefusesDatabaseNewerThanTheCode) {
  const std::string path = PathOf("newer.db");
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Migrate({{1, "CREATE TABLE a (x INTEGER)"},
                             {2, "CREATE TABLE b (x INTEGER)"},
                             {3, "CREATE TABLE c (x INTEGER)"}})
                    .ok());
  }
  auto db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  absl::Status status = db->Migrate({{1, "CREATE TABLE a (x INTEGER)"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("schema version 3"));
  EXPECT_THAT(status.message(), HasSubstr("up to version 1"));
  EXPECT_EQ(*db->SchemaVersion(), 3);
}

TEST_F(SqliteTest, MigrationVersionsMustBeConsecutiveFromOne) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Migrate({{2, "CREATE TABLE a (x)"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Migrate({{1, "CREATE TABLE a (x)"}, {3, "CREATE TABLE b (x)"}})
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Migrate({{2, "CREATE TABLE b (x)"}, {1, "CREATE TABLE a (x)"}})
                .code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing was applied by the rejected lists.
  EXPECT_EQ(*db->SchemaVersion(), 0);
}

TEST_F(SqliteTest, BindsAndReadsEveryType) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE v (i INTEGER, d REAL, t TEXT, b BLOB, n TEXT)")
          .ok());

  const std::string blob("a\0b\0\xff", 5);
  const std::string text = "päivää, Åsa";  // UTF-8 round-trips byte for byte
  Statement* insert = *db->Prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert->Bind(1, std::numeric_limits<int64_t>::min())
                  .Bind(2, 0.1)
                  .Bind(3, text)
                  .BindBlob(4, blob)
                  .BindNull(5)
                  .Run()
                  .ok());
  EXPECT_EQ(db->Changes(), 1);
  EXPECT_EQ(db->LastInsertRowId(), 1);
  // Empty values stay empty values, not NULL.
  ASSERT_TRUE(insert->Bind(1, 7)
                  .Bind(2, -2.5)
                  .Bind(3, absl::string_view())
                  .BindBlob(4, absl::string_view())
                  .Bind(5, "x")
                  .Run()
                  .ok());
  EXPECT_EQ(db->LastInsertRowId(), 2);

  Statement* select =
      *db->Prepare("SELECT i, d, t, b, n FROM v ORDER BY rowid");
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt(0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(select->ColumnDouble(1), 0.1);
  EXPECT_EQ(select->ColumnText(2), text);
  EXPECT_EQ(select->ColumnBlob(3), blob);
  EXPECT_EQ(select->ColumnBlob(3).size(), 5u);
  EXPECT_TRUE(select->IsNull(4));
  EXPECT_EQ(select->ColumnText(4), "");
  EXPECT_FALSE(select->IsNull(0));

  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt(0), 7);
  EXPECT_EQ(select->ColumnDouble(1), -2.5);
  EXPECT_FALSE(select->IsNull(2));
  EXPECT_EQ(select->ColumnText(2), "");
  EXPECT_FALSE(select->IsNull(3));
  EXPECT_EQ(select->ColumnBlob(3), "");
  EXPECT_EQ(select->ColumnText(4), "x");

  absl::StatusOr<bool> done = select->Step();
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
}

// Unowned text is read in place while the statement runs, and Run leaves
// nothing of it bound: a later run that binds nothing there inserts NULL,
// not the string that is gone by then (ASan would see SQLite read it).
TEST_F(SqliteTest, UnownedTextIsBoundUntilTheStatementIsReset) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE v (k INTEGER, t TEXT)").ok());
  Statement* insert = *db->Prepare("INSERT INTO v VALUES (?1, ?2)");
  {
    const std::string text = "jonotusaika oli pitkä";
    ASSERT_TRUE(insert->Bind(1, 1).BindUnowned(2, text).Run().ok());
    ASSERT_TRUE(insert->Bind(1, 2).BindUnowned(2, absl::string_view()).Run().ok());
  }
  ASSERT_TRUE(insert->Bind(1, 3).Run().ok());

  Statement* select = *db->Prepare("SELECT t FROM v ORDER BY k");
  std::vector<std::string> texts;
  std::vector<bool> nulls;
  ASSERT_TRUE(select
                  ->ForEachRow([&](const Statement& row) {
                    texts.push_back(row.ColumnText(0));
                    nulls.push_back(row.IsNull(0));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(texts, (std::vector<std::string>{"jonotusaika oli pitkä", "", ""}));
  EXPECT_EQ(nulls, (std::vector<bool>{false, false, true}));
}

TEST_F(SqliteTest, BindErrorIsReportedByStep) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  Statement* stmt = *db->Prepare("SELECT ?1");
  absl::Status status = stmt->Bind(5, 1).Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("parameter 5"));
  EXPECT_THAT(status.message(), HasSubstr("SELECT ?1"));
  // Reset forgets the error.
  EXPECT_TRUE(stmt->Bind(1, 1).Run().ok());
}

TEST_F(SqliteTest, StatementCacheReturnsSameStatementReset) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)")
          .ok());

  Statement* first = *db->Prepare("SELECT x FROM t WHERE x >= ?1 ORDER BY x");
  ASSERT_TRUE(*first->Bind(1, 2).Step());
  EXPECT_EQ(first->ColumnInt(0), 2);

  // Same text: same object, rewound and with its bindings cleared (an
  // unbound parameter is NULL, so no row matches).
  Statement* again = *db->Prepare("SELECT x FROM t WHERE x >= ?1 ORDER BY x");
  EXPECT_EQ(again, first);
  EXPECT_FALSE(*again->Step());
  again->Reset();
  ASSERT_TRUE(*again->Bind(1, 1).Step());
  EXPECT_EQ(again->ColumnInt(0), 1);

  Statement* other = *db->Prepare("SELECT x FROM t ORDER BY x DESC");
  EXPECT_NE(other, first);
}

// Whether any statement of `db` is part way through its rows (not reset):
// such a statement holds a read transaction open and cannot be re-bound.
bool AnyStatementInProgress(Database& db) {
  for (sqlite3_stmt* stmt = sqlite3_next_stmt(db.raw(), nullptr);
       stmt != nullptr; stmt = sqlite3_next_stmt(db.raw(), stmt)) {
    if (sqlite3_stmt_busy(stmt)) return true;
  }
  return false;
}

// Runs `select` with ForEachRow, collecting column 0 of every row.
absl::Status CollectInts(Statement& select, std::vector<int64_t>& values) {
  return select.ForEachRow([&](const Statement& row) {
    values.push_back(row.ColumnInt(0));
    return absl::OkStatus();
  });
}

TEST_F(SqliteTest, ForEachRowVisitsEveryRowInOrderThenResets) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (3), (1), (2)")
          .ok());
  Statement* select = *db->Prepare("SELECT x FROM t WHERE x >= ?1 ORDER BY x");

  std::vector<int64_t> visited;
  ASSERT_TRUE(CollectInts(select->Bind(1, 1), visited).ok());
  EXPECT_EQ(visited, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(AnyStatementInProgress(*db));

  // The bindings were cleared: an unbound parameter is NULL, so no row.
  visited.clear();
  ASSERT_TRUE(CollectInts(*select, visited).ok());
  EXPECT_TRUE(visited.empty());
}

TEST_F(SqliteTest, ARowErrorStopsForEachRowAndIsReturned) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER);"
                       " INSERT INTO t VALUES (1), (2), (3), (4), (5)")
                  .ok());
  Statement* select = *db->Prepare("SELECT x FROM t WHERE x >= ?1 ORDER BY x");

  std::vector<int64_t> visited;
  absl::Status status =
      select->Bind(1, 1).ForEachRow([&](const Statement& row) {
        visited.push_back(row.ColumnInt(0));
        return row.ColumnInt(0) == 2 ? absl::DataLossError("row 2 is bad")
                                     : absl::OkStatus();
      });
  EXPECT_EQ(status, absl::DataLossError("row 2 is bad"));
  EXPECT_EQ(visited, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(AnyStatementInProgress(*db));

  // Reset: it binds again and runs from the first row.
  visited.clear();
  ASSERT_TRUE(CollectInts(select->Bind(1, 1), visited).ok());
  EXPECT_EQ(visited, (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_F(SqliteTest, AStepErrorMidScanIsReturnedByForEachRow) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
  Statement* insert = *db->Prepare("INSERT INTO t VALUES (?1)");
  for (int64_t x : {int64_t{1}, int64_t{2}, std::numeric_limits<int64_t>::min(),
                    int64_t{4}}) {
    ASSERT_TRUE(insert->Bind(1, x).Run().ok());
  }
  // abs() of the smallest integer fails, on the third row.
  Statement* select =
      *db->Prepare("SELECT abs(x) FROM t WHERE x >= ?1 ORDER BY rowid");

  std::vector<int64_t> visited;
  absl::Status status = CollectInts(
      select->Bind(1, std::numeric_limits<int64_t>::min()), visited);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("integer overflow"));
  EXPECT_EQ(visited, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(AnyStatementInProgress(*db));

  // Reset, bindings included: unbound, ?1 is NULL and no row matches.
  visited.clear();
  ASSERT_TRUE(CollectInts(*select, visited).ok());
  EXPECT_TRUE(visited.empty());
  ASSERT_TRUE(CollectInts(select->Bind(1, 0), visited).ok());
  EXPECT_EQ(visited, (std::vector<int64_t>{1, 2, 4}));
}

TEST_F(SqliteTest, PrepareRejectsSeveralStatementsAndBadSql) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Prepare("SELECT 1; SELECT 2").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(db->Prepare("SELECT 1; -- trailing comment").ok());
  absl::Status bad = db->Prepare("SELEKT 1").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad.message(), HasSubstr("SELEKT 1"));
  EXPECT_THAT(bad.message(), HasSubstr("syntax error"));
}

TEST_F(SqliteTest, ConstraintErrorsHaveDocumentedCodes) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      db->Exec(
            "CREATE TABLE journey (key TEXT PRIMARY KEY);"
            "CREATE TABLE stage (journey TEXT NOT NULL REFERENCES journey(key),"
            "                    name TEXT CHECK (name <> ''))")
          .ok());
  Statement* add_journey = *db->Prepare("INSERT INTO journey VALUES (?1)");
  ASSERT_TRUE(add_journey->Bind(1, "onboarding").Run().ok());

  absl::Status duplicate = add_journey->Bind(1, "onboarding").Run();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(duplicate.message(), HasSubstr("UNIQUE constraint failed"));
  EXPECT_THAT(duplicate.message(), HasSubstr("INSERT INTO journey"));

  Statement* add_stage = *db->Prepare("INSERT INTO stage VALUES (?1, ?2)");
  EXPECT_EQ(add_stage->Bind(1, "missing").Bind(2, "buy").Run().code(),
            absl::StatusCode::kFailedPrecondition);  // foreign key
  EXPECT_EQ(add_stage->Bind(1, "onboarding").Bind(2, "").Run().code(),
            absl::StatusCode::kFailedPrecondition);  // check
  EXPECT_TRUE(add_stage->Bind(1, "onboarding").Bind(2, "buy").Run().ok());
}

TEST_F(SqliteTest, TransactionRollsBackWhenDestroyedUncommitted) {
  auto db = OpenOrDie(PathOf("txn.db"));
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
  {
    Transaction txn(*db);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE((*db->Prepare("INSERT INTO t VALUES (1)"))->Run().ok());
    EXPECT_EQ(CountRows(*db, "t"), 1);
  }
  EXPECT_EQ(CountRows(*db, "t"), 0);
  EXPECT_NE(sqlite3_get_autocommit(db->raw()), 0);  // no transaction left open
  {
    Transaction txn(*db);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE((*db->Prepare("INSERT INTO t VALUES (1)"))->Run().ok());
    ASSERT_TRUE(txn.Commit().ok());
    EXPECT_EQ(txn.Commit().code(), absl::StatusCode::kFailedPrecondition);
  }
  // Committed data is visible to a separate connection.
  auto reader = OpenOrDie(PathOf("txn.db"));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(CountRows(*reader, "t"), 1);
}

TEST_F(SqliteTest, ExplicitRollbackDiscardsWrites) {
  auto db = OpenOrDie(":memory:");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
  Transaction txn(*db);
  ASSERT_TRUE(txn.Begin().ok());
  EXPECT_EQ(txn.Begin().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
  ASSERT_TRUE(txn.Rollback().ok());
  EXPECT_EQ(CountRows(*db, "t"), 0);
  EXPECT_EQ(txn.Rollback().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SqliteTest, SecondWriterIsUnavailableWhileFirstHoldsTheLock) {
  const std::string path = PathOf("busy.db");
  auto writer = OpenOrDie(path);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Exec("CREATE TABLE t (x INTEGER)").ok());
  Database::Options impatient;
  impatient.busy_timeout_ms = 0;
  auto other = OpenOrDie(path, impatient);
  ASSERT_NE(other, nullptr);

  Transaction txn(*writer);
  ASSERT_TRUE(txn.Begin().ok());
  Transaction blocked(*other);
  EXPECT_EQ(blocked.Begin().code(), absl::StatusCode::kUnavailable);
  // WAL: readers are not blocked by the writer.
  EXPECT_EQ(CountRows(*other, "t"), 0);
  ASSERT_TRUE(txn.Commit().ok());
  EXPECT_TRUE(blocked.Begin().ok());
}

TEST_F(SqliteTest, ReadOnlyHandleCannotWrite) {
  const std::string path = PathOf("ro.db");
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(
        db->Migrate(
              {{1, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)"}})
            .ok());
  }
  Database::Options options;
  options.read_only = true;
  auto db = OpenOrDie(path, options);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(CountRows(*db, "t"), 1);
  absl::Status write = db->Exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(write.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(write.message(), HasSubstr("readonly"));
  EXPECT_EQ(CountRows(*db, "t"), 1);
}

TEST_F(SqliteTest, ReadOnlyOpenOfMissingFileFails) {
  Database::Options options;
  options.read_only = true;
  std::string path = PathOf("absent.db");
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path, options);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.status().message(), HasSubstr(path));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace polku::sqlite
