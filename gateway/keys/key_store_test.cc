#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "gateway/keys/sqlite_key_store.h"
#include "lib/sqlite/sqlite.h"

namespace polku::gateway::keys {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What only the SQLite store has: a file (its mode, its bytes) and
// databases from before change numbers. The behaviour both stores share is
// in key_store_conformance_test.cc.

TEST(SqliteKeyStoreTest, TheDatabaseFilesAreReadableByTheOwnerOnly) {
  std::string dir = ::testing::TempDir() + "/polku_keystore_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/gateway.db";
  auto store = *SqliteKeyStore::Open(path);
  ASSERT_TRUE(store->CreateTenant("demo", "").ok());
  for (const std::string& file : {path, path + "-wal"}) {
    struct stat info;
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

// Every column of every row of every table, as bytes.
std::string DumpDatabase(const std::string& path) {
  auto db = *sqlite::Database::Open(path);
  std::vector<std::string> tables;
  auto* list =
      *db->Prepare("SELECT name FROM sqlite_master WHERE type='table'");
  while (*list->Step()) tables.push_back(list->ColumnText(0));
  list->Reset();
  EXPECT_THAT(tables, testing::IsSupersetOf({"tenants", "api_keys"}));
  std::string dump;
  for (const std::string& table : tables) {
    int columns = 0;
    auto* info = *db->Prepare(absl::StrCat("PRAGMA table_info(", table, ")"));
    while (*info->Step()) ++columns;
    info->Reset();
    auto* rows = *db->Prepare(absl::StrCat("SELECT * FROM ", table));
    while (*rows->Step()) {
      for (int c = 0; c < columns; ++c) {
        if (!rows->IsNull(c)) dump += rows->ColumnBlob(c) + "\n";
      }
    }
    rows->Reset();
  }
  return dump;
}

// The raw bytes of every file in `dir` (the database, its WAL).
std::string RawFiles(const std::string& dir) {
  std::string bytes;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  }
  return bytes;
}

TEST(SqliteKeyStoreTest, DatabaseHoldsNoPlaintextKey) {
  std::string dir = ::testing::TempDir() + "/polku_keydump_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/gateway.db";
  std::vector<std::string> keys;
  {
    auto store = *SqliteKeyStore::Open(path);
    ASSERT_TRUE(store->CreateTenant("demo", "").ok());
    keys.push_back(store->CreateSuperAdminKey()->key);
    keys.push_back(
        store->CreateKey("demo", "", {kScopeEventsWrite}, "shop")->key);
    auto admin = *store->CreateKey("demo", "", {kScopeAdmin}, "");
    keys.push_back(admin.key);
    ASSERT_TRUE(store->RevokeKey("demo", admin.record.key_id).ok());
  }
  for (const std::string& dump : {DumpDatabase(path), RawFiles(dir)}) {
    EXPECT_THAT(dump, HasSubstr(KeyHash(keys[1])));  // The dump is real.
    for (const std::string& key : keys) {
      // Neither the key nor any long part of its secret appears.
      EXPECT_THAT(dump, Not(HasSubstr(key)));
      EXPECT_THAT(dump, Not(HasSubstr(key.substr(6, 64))));
      EXPECT_THAT(dump, Not(HasSubstr(key.substr(6, 16))));
      EXPECT_THAT(dump, Not(HasSubstr(key.substr(40, 16))));
    }
  }
}

// A gateway.db from before change numbers (schema version 1) keeps its
// keys, and changes made after the upgrade reach other readers.
TEST(SqliteKeyStoreTest, UpgradesADatabaseFromBeforeChangeNumbers) {
  std::string dir = ::testing::TempDir() + "/polku_keyupgrade_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/gateway.db";
  const std::string old_key = GenerateKey();
  {
    auto db = *sqlite::Database::Open(path);
    ASSERT_TRUE(
        db->Exec(
              absl::StrCat("CREATE TABLE tenants (id TEXT PRIMARY KEY, "
                           "display_name TEXT NOT NULL, create_time_us "
                           "INTEGER NOT NULL);"
                           "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, "
                           "key_sha256 TEXT NOT NULL UNIQUE, tenant TEXT NOT "
                           "NULL, display_name TEXT NOT NULL, scopes TEXT NOT "
                           "NULL, channel TEXT NOT NULL, create_time_us "
                           "INTEGER NOT NULL, revoke_time_us INTEGER);"
                           "CREATE INDEX api_keys_by_tenant ON api_keys "
                           "(tenant, key_id);"
                           "INSERT INTO tenants VALUES ('demo', '', 1);"
                           "INSERT INTO api_keys VALUES ('",
                           KeyId(old_key), "', '", KeyHash(old_key),
                           "', 'demo', 'old', 'journeys:read', '', 1, NULL);"
                           "PRAGMA user_version = 1;"))
            .ok());
  }
  auto store = SqliteKeyStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto who = (*store)->Authenticate(old_key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_TRUE(who->HasScope(kScopeJourneysRead));
  auto reader = *SqliteKeyStore::Open(path);
  ASSERT_TRUE((*store)->RevokeKey("demo", KeyId(old_key)).ok());
  ASSERT_TRUE(reader->Refresh().ok());
  EXPECT_FALSE(reader->Authenticate(old_key).ok());
}

}  // namespace
}  // namespace polku::gateway::keys
