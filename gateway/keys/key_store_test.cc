#include "gateway/keys/key_store.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "lib/sqlite/sqlite.h"

namespace polku::gateway::keys {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<SqliteKeyStore> DemoStore() {
  auto store = SqliteKeyStore::Open(":memory:");
  EXPECT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->CreateTenant("demo", "Demo").ok());
  return *std::move(store);
}

TEST(SqliteKeyStoreTest, IssuedKeyAuthenticatesAsItsPrincipal) {
  auto store = DemoStore();
  auto issued = store->CreateKey("demo", "till", {kScopeEventsWrite}, "shop");
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(IsWellFormedKey(issued->key));
  EXPECT_EQ(issued->record.key_id, KeyId(issued->key));
  auto who = store->Authenticate(issued->key);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->tenant, "demo");
  EXPECT_EQ(who->channel, "shop");
  EXPECT_EQ(who->key_id, issued->record.key_id);
  EXPECT_TRUE(who->HasScope(kScopeEventsWrite));
}

TEST(SqliteKeyStoreTest, MalformedAndUnknownKeysAreUnauthenticated) {
  auto store = DemoStore();
  EXPECT_THAT(store->Authenticate("polku_nope").status().message(),
              HasSubstr("malformed"));
  auto unknown = store->Authenticate(GenerateKey());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown"));
}

TEST(SqliteKeyStoreTest, RevocationTakesEffectImmediatelyAndSurvivesReopen) {
  std::string dir = ::testing::TempDir() + "/polku_keystore_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/gateway.db";
  std::string key;
  {
    auto store = *SqliteKeyStore::Open(path);
    ASSERT_TRUE(store->CreateTenant("demo", "").ok());
    auto issued = *store->CreateKey("demo", "", {kScopeInsightsRead}, "");
    key = issued.key;
    ASSERT_TRUE(store->Authenticate(key).ok());
    auto revoked = store->RevokeKey("demo", issued.record.key_id);
    ASSERT_TRUE(revoked.ok()) << revoked.status();
    EXPECT_TRUE(revoked->revoke_time.has_value());
    EXPECT_EQ(store->Authenticate(key).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  auto reopened = *SqliteKeyStore::Open(path);
  EXPECT_EQ(reopened->Authenticate(key).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reopened->size(), 0u);
}

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

TEST(SqliteKeyStoreTest, KeysAreRevokedOnlyByTheirOwnTenant) {
  auto store = DemoStore();
  ASSERT_TRUE(store->CreateTenant("other", "").ok());
  auto issued = *store->CreateKey("demo", "", {kScopeJourneysRead}, "");
  EXPECT_EQ(store->RevokeKey("other", issued.record.key_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Authenticate(issued.key).ok());
}

TEST(SqliteKeyStoreTest, ScopeRulesNameTheField) {
  auto store = DemoStore();
  auto check = [&](std::set<std::string> scopes, std::string channel,
                   const char* field) {
    auto issued = store->CreateKey("demo", "", scopes, channel);
    EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(issued.status().message(), HasSubstr(field));
  };
  check({}, "", "api_key.scopes");
  check({"root"}, "", "api_key.scopes");
  check({kScopeSuperAdmin}, "", "api_key.scopes");
  check({kScopeEventsWrite}, "", "api_key.channel");
  check({kScopeEventsWrite, kScopeJourneysRead}, "shop", "api_key.scopes");
  check({kScopeJourneysRead}, "shop", "api_key.channel");
  EXPECT_EQ(
      store->CreateKey("nobody", "", {kScopeJourneysRead}, "").status().code(),
      absl::StatusCode::kNotFound);
}

TEST(SqliteKeyStoreTest, TenantsAreUniqueValidAndListedInOrder) {
  auto store = DemoStore();
  EXPECT_EQ(store->CreateTenant("demo", "").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->CreateTenant("Bad Name", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->CreateTenant("acme", "Acme").ok());
  auto tenants = *store->ListTenants("", 10);
  ASSERT_EQ(tenants.size(), 2u);
  EXPECT_EQ(tenants[0].id, "acme");
  EXPECT_EQ(tenants[1].id, "demo");
  EXPECT_EQ(store->ListTenants("acme", 10)->size(), 1u);
}

TEST(SqliteKeyStoreTest, ListsKeysWithoutRevokedOnesUnlessAsked) {
  auto store = DemoStore();
  auto a = *store->CreateKey("demo", "a", {kScopeJourneysRead}, "");
  auto b = *store->CreateKey("demo", "b", {kScopeInsightsRead}, "");
  ASSERT_TRUE(store->RevokeKey("demo", a.record.key_id).ok());
  auto valid = *store->ListKeys("demo", "", 10, false);
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].key_id, b.record.key_id);
  EXPECT_EQ(store->ListKeys("demo", "", 10, true)->size(), 2u);
}

TEST(SqliteKeyStoreTest, SuperAdminHasNoTenant) {
  auto store = DemoStore();
  EXPECT_FALSE(*store->HasSuperAdminKey());
  auto issued = *store->CreateSuperAdminKey();
  EXPECT_TRUE(*store->HasSuperAdminKey());
  auto who = *store->Authenticate(issued.key);
  EXPECT_TRUE(who.IsSuperAdmin());
  EXPECT_EQ(who.tenant, "");
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

}  // namespace
}  // namespace polku::gateway::keys
