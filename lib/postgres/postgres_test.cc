#include "lib/postgres/postgres.h"

#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/postgres/testing/test_server.h"

namespace polku::postgres {
namespace {

using ::testing::HasSubstr;

// One real server for the whole suite; each test gets its own database.
class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = TestServer::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    database_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : database_) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(server_->CreateDatabase(database_).ok());
    db_ = Connect();
  }

  std::unique_ptr<Connection> Connect() {
    auto connection = Connection::Open(server_->Url(database_), absl::Seconds(10));
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  static TestServer* server_;
  std::string database_;
  std::unique_ptr<Connection> db_;
};

TestServer* PostgresTest::server_ = nullptr;

const std::vector<Migration> kSchema = {
    {1, "CREATE TABLE events (id TEXT PRIMARY KEY, score INTEGER CHECK (score BETWEEN 0 AND 10),"
        " payload BYTEA, note TEXT)"},
    {2, "CREATE INDEX events_score ON events (score)"},
};

TEST_F(PostgresTest, MigratesOnceAndRefusesANewerDatabase) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());  // nothing left to do
  EXPECT_EQ(*db_->SchemaVersion("test"), 2);
  absl::Status older = db_->Migrate("test", {kSchema[0]});
  EXPECT_EQ(older.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(older.message(), HasSubstr("schema of test is at version 2"));
  EXPECT_EQ(db_->Migrate("test", {{2, "SELECT 1"}}).code(), absl::StatusCode::kInvalidArgument);
}

// A migration that would wait for another connection's lock (an older
// replica's long read during an upgrade) gives up after its lock timeout,
// names itself, applies nothing, lets go of the migration lock, and
// succeeds once the table's lock is gone.
TEST_F(PostgresTest, AMigrationWaitingForALockGivesUpAndAppliesNothing) {
  const std::vector<Migration> schema = {kSchema[0],
                                         {2, "ALTER TABLE events ADD COLUMN channel TEXT"}};
  ASSERT_TRUE(db_->Migrate("test", {kSchema[0]}).ok());
  std::unique_ptr<Connection> reader = Connect();
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Exec("BEGIN; LOCK TABLE events IN ACCESS SHARE MODE").ok());
  const absl::Time start = absl::Now();
  const absl::Status blocked = db_->Migrate("test", schema, absl::Milliseconds(200));
  EXPECT_EQ(blocked.code(), absl::StatusCode::kDeadlineExceeded) << blocked;
  EXPECT_THAT(blocked.message(), HasSubstr("migration 2 of test waited 200ms for a lock"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(*db_->SchemaVersion("test"), 1);
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
  // Another session takes the migration lock: the failed Migrate let go of
  // it (its own session could take it again even if it had not).
  absl::StatusOr<Result> taken =
      reader->Execute("SELECT pg_try_advisory_lock(x'706f6c6b75'::bigint)");
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->Text(0, 0), "t");
  ASSERT_TRUE(reader->Execute("SELECT pg_advisory_unlock(x'706f6c6b75'::bigint)").ok());
  ASSERT_TRUE(db_->Migrate("test", schema, absl::Milliseconds(200)).ok());
  EXPECT_EQ(*db_->SchemaVersion("test"), 2);
  EXPECT_TRUE(db_->Execute("INSERT INTO events (id, channel) VALUES ('e1', 'web')").ok());
}

TEST_F(PostgresTest, ComponentsSharingADatabaseMigrateEachTheirOwn) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  ASSERT_TRUE(db_->Migrate("other", {{1, "CREATE TABLE others (x INTEGER)"}}).ok());
  EXPECT_EQ(*db_->SchemaVersion("test"), 2);
  EXPECT_EQ(*db_->SchemaVersion("other"), 1);
  EXPECT_TRUE(db_->Execute("INSERT INTO others VALUES (1)").ok());
  EXPECT_TRUE(db_->Migrate("test", kSchema).ok());  // nothing left to do
  EXPECT_EQ(db_->Migrate("", kSchema).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PostgresTest, VersionsFromBeforeComponentsBelongToTheFirstComponentThatMigrates) {
  // What Migrate left behind when versions had no component.
  ASSERT_TRUE(db_->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
                        "INSERT INTO schema_migrations (version) VALUES (1), (2)")
                  .ok());
  ASSERT_TRUE(db_->Exec(kSchema[0].sql).ok());
  ASSERT_TRUE(db_->Exec(kSchema[1].sql).ok());
  // Running migration 1 again would fail: the table exists.
  absl::Status migrated = db_->Migrate("test", kSchema);
  ASSERT_TRUE(migrated.ok()) << migrated;
  EXPECT_EQ(*db_->SchemaVersion("test"), 2);
  ASSERT_TRUE(db_->Migrate("other", {{1, "CREATE TABLE others (x INTEGER)"}}).ok());
  EXPECT_EQ(*db_->SchemaVersion("other"), 1);
  EXPECT_EQ(*db_->SchemaVersion("test"), 2);
}

TEST_F(PostgresTest, ReplicasStartingTogetherMigrateOnce) {
  std::vector<std::thread> replicas;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([this, i, &results] {
      std::unique_ptr<Connection> connection = Connect();
      results[i] = connection ? connection->Migrate("test", kSchema)
                              : absl::UnknownError("no connection");
    });
  }
  for (std::thread& replica : replicas) replica.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  auto applied = db_->Execute("SELECT count(*) FROM schema_migrations");
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->Int(0, 0), 2);
}

TEST_F(PostgresTest, ParametersAndColumnsOfEveryKindRoundTrip) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  const std::string bytes("a\0b\xff", 4);
  auto inserted = db_->Execute("INSERT INTO events VALUES ($1, $2, $3, $4)",
                               {Param::Text("e-1"), Param::Int(9), Param::Bytes(bytes),
                                Param::Null()});
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(inserted->affected(), 1);
  auto row = db_->Execute("SELECT id, score, payload, note FROM events WHERE id = $1",
                          {Param::Text("e-1")});
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_EQ(row->rows(), 1);
  EXPECT_EQ(row->Text(0, 0), "e-1");
  EXPECT_EQ(row->Int(0, 1), 9);
  EXPECT_EQ(row->Bytes(0, 2), bytes);
  EXPECT_TRUE(row->IsNull(0, 3));
}

// Arrays travel in binary, so no value needs escaping: what the server
// unnests is exactly what was sent, in order.
TEST_F(PostgresTest, ArrayParametersRoundTripAwkwardValues) {
  const std::vector<std::string> texts = {
      "plain", "with \"quotes\"", "back\\slash\\", "a,b", "{braces}", "", " ",
      "NULL", "ääkköset åå", "日本語", "\"{\\\"},\n\t"};
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::vector<std::string> bytes = {all_bytes, "", std::string(3, '\0'), "\\x00"};
  const std::vector<int64_t> ints = {0, -1, 7, std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max()};

  auto text_rows = db_->Execute(
      "SELECT value, position FROM unnest($1::text[]) WITH ORDINALITY AS t(value, position)",
      {Param::TextArray(texts)});
  ASSERT_TRUE(text_rows.ok()) << text_rows.status();
  ASSERT_EQ(text_rows->rows(), static_cast<int>(texts.size()));
  for (int row = 0; row < text_rows->rows(); ++row) {
    EXPECT_FALSE(text_rows->IsNull(row, 0));
    EXPECT_EQ(text_rows->Text(row, 0), texts[row]) << "row " << row;
    EXPECT_EQ(text_rows->Int(row, 1), row + 1);
  }
  auto byte_rows = db_->Execute("SELECT unnest($1::bytea[])", {Param::BytesArray(bytes)});
  ASSERT_TRUE(byte_rows.ok()) << byte_rows.status();
  ASSERT_EQ(byte_rows->rows(), static_cast<int>(bytes.size()));
  for (int row = 0; row < byte_rows->rows(); ++row) {
    EXPECT_EQ(byte_rows->Bytes(row, 0), bytes[row]) << "row " << row;
  }
  auto int_rows = db_->Execute("SELECT unnest($1::bigint[])", {Param::IntArray(ints)});
  ASSERT_TRUE(int_rows.ok()) << int_rows.status();
  ASSERT_EQ(int_rows->rows(), static_cast<int>(ints.size()));
  for (int row = 0; row < int_rows->rows(); ++row) {
    EXPECT_EQ(int_rows->Int(row, 0), ints[row]) << "row " << row;
  }
}

TEST_F(PostgresTest, EmptyArraysAreEmpty) {
  auto sizes = db_->Execute(
      "SELECT cardinality($1::text[]), cardinality($2::bytea[]), cardinality($3::bigint[])",
      {Param::TextArray({}), Param::BytesArray({}), Param::IntArray({})});
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_EQ(sizes->Int(0, 0), 0);
  EXPECT_EQ(sizes->Int(0, 1), 0);
  EXPECT_EQ(sizes->Int(0, 2), 0);
}

// Text cannot store NUL, and libpq would silently cut a text parameter at
// one: such a value is refused before anything is sent.
TEST_F(PostgresTest, TextWithNulIsRefused) {
  const std::string nul("a\0b", 3);
  for (const Param& param : {Param::Text(nul), Param::TextArray({"ok", nul})}) {
    absl::Status refused = db_->Execute("SELECT $1", {param}).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("(parameter $1) holds a NUL byte"));
  }
  EXPECT_TRUE(db_->healthy());
  auto bytes = db_->Execute("SELECT $1::bytea", {Param::Bytes(nul)});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->Bytes(0, 0), nul);
}

TEST_F(PostgresTest, ErrorsCarryTheMostSpecificCode) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO events (id) VALUES ('dup')").ok());
  absl::Status duplicate = db_->Execute("INSERT INTO events (id) VALUES ('dup')").status();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(duplicate.message(), HasSubstr("23505"));
  EXPECT_EQ(db_->Execute("INSERT INTO events (id, score) VALUES ('x', 11)").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->Execute("SELECT $1::integer", {Param::Text("abc")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->Exec("SELEC 1").code(), absl::StatusCode::kInternal);
}

TEST_F(PostgresTest, TransactionsRollBackUnlessCommitted) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  {
    Transaction txn(*db_);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(db_->Execute("INSERT INTO events (id) VALUES ('gone')").ok());
  }
  {
    // A failed statement dooms the transaction: COMMIT must not pretend.
    Transaction txn(*db_);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(db_->Execute("INSERT INTO events (id) VALUES ('doomed')").ok());
    EXPECT_FALSE(db_->Execute("INSERT INTO events (id, score) VALUES ('bad', 99)").ok());
    EXPECT_EQ(txn.Commit().code(), absl::StatusCode::kAborted);
  }
  {
    Transaction txn(*db_);
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(db_->Execute("INSERT INTO events (id) VALUES ('kept')").ok());
    ASSERT_TRUE(txn.Commit().ok());
  }
  auto ids = db_->Execute("SELECT id FROM events ORDER BY id");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->rows(), 1);
  EXPECT_EQ(ids->Text(0, 0), "kept");
}

TEST_F(PostgresTest, SerializationConflictsAreAbortedForRetry) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO events (id, score) VALUES ('a', 1)").ok());
  std::unique_ptr<Connection> other = Connect();
  ASSERT_NE(other, nullptr);
  Transaction first(*db_), second(*other);
  ASSERT_TRUE(first.Begin("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
  ASSERT_TRUE(second.Begin("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
  ASSERT_TRUE(db_->Execute("SELECT score FROM events WHERE id = 'a'").ok());
  ASSERT_TRUE(other->Execute("SELECT score FROM events WHERE id = 'a'").ok());
  ASSERT_TRUE(db_->Execute("UPDATE events SET score = 2 WHERE id = 'a'").ok());
  ASSERT_TRUE(first.Commit().ok());
  absl::Status lost = other->Execute("UPDATE events SET score = 3 WHERE id = 'a'").status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kAborted) << lost;
}

TEST_F(PostgresTest, AnUnreachableServerIsUnavailableWithTheReason) {
  auto nowhere = Connection::Open("postgresql:///x?host=/nonexistent-polku-dir", absl::Seconds(2));
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(nowhere.status().message(), HasSubstr("cannot connect to PostgreSQL"));
}

// Defined last, as it stops and restarts the suite's server.
TEST_F(PostgresTest, LosingTheServerIsUnavailableAndANewConnectionRecovers) {
  ASSERT_TRUE(db_->Migrate("test", kSchema).ok());
  ASSERT_TRUE(server_->Kill().ok());
  absl::Status lost = db_->Execute("SELECT 1").status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kUnavailable) << lost;
  EXPECT_FALSE(db_->healthy());
  ASSERT_TRUE(server_->Restart().ok());
  std::unique_ptr<Connection> again = Connect();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->SchemaVersion("test"), 2);
}

}  // namespace
}  // namespace polku::postgres
