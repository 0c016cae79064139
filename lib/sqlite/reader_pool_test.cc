#include "lib/sqlite/reader_pool.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "lib/base/status_macros.h"

namespace polku::sqlite {
namespace {

std::string TempPath(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/reader_pool_test";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name;
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return path;
}

absl::StatusOr<int64_t> Count(Database& db) {
  POLKU_ASSIGN_OR_RETURN(Statement * count,
                         db.Prepare("SELECT count(*) FROM t"));
  POLKU_ASSIGN_OR_RETURN(bool row, count->Step());
  const int64_t n = row ? count->ColumnInt(0) : -1;
  count->Reset();
  return n;
}

TEST(ReaderPoolTest, ReusesConnectionsAndSeesCommittedRows) {
  const std::string path = TempPath("reuse.db");
  absl::StatusOr<std::unique_ptr<Database>> writer = Database::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE t (v INTEGER)").ok());
  ReaderPool pool(path, /*durable=*/true);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE((*writer)->Exec("INSERT INTO t VALUES (1)").ok());
    int64_t seen = 0;
    ASSERT_TRUE(pool.WithReader([&](Database& db) -> absl::Status {
                      POLKU_ASSIGN_OR_RETURN(seen, Count(db));
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_EQ(seen, i);
    EXPECT_EQ(pool.idle(), 1u);  // one connection, reused
  }
}

TEST(ReaderPoolTest, ASnapshotIgnoresLaterCommits) {
  const std::string path = TempPath("snapshot.db");
  absl::StatusOr<std::unique_ptr<Database>> writer = Database::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)
                  ->Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)")
                  .ok());
  ReaderPool pool(path, /*durable=*/true);
  int64_t before = 0, after = 0;
  ASSERT_TRUE(pool.Snapshot([&](Database& db) -> absl::Status {
                    POLKU_ASSIGN_OR_RETURN(before, Count(db));
                    POLKU_RETURN_IF_ERROR(
                        (*writer)->Exec("INSERT INTO t VALUES (2)"));
                    POLKU_ASSIGN_OR_RETURN(after, Count(db));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1);
}

TEST(ReaderPoolTest, AFailedSnapshotDropsItsConnection) {
  const std::string path = TempPath("failed.db");
  absl::StatusOr<std::unique_ptr<Database>> writer = Database::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE t (v INTEGER)").ok());
  ReaderPool pool(path, /*durable=*/true);
  absl::Status status = pool.Snapshot(
      [](Database&) { return absl::InternalError("query failed"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(pool.idle(), 0u);
  ASSERT_TRUE(pool.WithReader([](Database&) {
                    return absl::InternalError("still returned");
                  })
                  .code() == absl::StatusCode::kInternal);
  EXPECT_EQ(pool.idle(), 1u);
}

}  // namespace
}  // namespace polku::sqlite
