// Every CaseStore backend against the same tests: in memory, SQLite and
// (case_store_pg_test.cc adds it) PostgreSQL. What a user would notice:
// duplicates never open a second case, illegal transitions are refused,
// every change is in the audit trail, SLAs fall due when they should and
// alert once, erasure removes the customer's cases, tenants never mix.
#include "services/cases/tests/case_store_conformance.h"

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/sqlite/sqlite.h"
#include "services/cases/sqlite/sqlite_case_store.h"
#include "services/cases/store/memory_case_store.h"

namespace polku::cases {
namespace {

std::unique_ptr<CaseStore> MakeMemory(CaseStore::Options options,
                                      const std::string&) {
  return std::make_unique<MemoryCaseStore>(std::move(options));
}

std::unique_ptr<CaseStore> MakeSqlite(CaseStore::Options options,
                                      const std::string& database) {
  static auto* seen = new std::set<std::string>;
  std::string path = absl::StrCat(testing::TempDir(), "/", database, ".db");
  if (seen->insert(database).second) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  }
  auto store = SqliteCaseStore::Open(path, std::move(options),
                                     /*durable=*/false);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, CaseStoreConformance,
    testing::Values(Backend{"memory", &MakeMemory, false},
                    Backend{"sqlite", &MakeSqlite}),
    [](const testing::TestParamInfo<Backend>& info) { return info.param.name; });

// A database of version 2 (before business calendars) gains them when the
// store opens it, and the change sequence; what it held stays.
TEST(CaseStoreMigrationTest, ASqliteDatabaseOfVersion2GainsBusinessCalendars) {
  const std::string path = absl::StrCat(testing::TempDir(), "/cases_v2.db");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }
  {
    auto db = sqlite::Database::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    std::vector<sqlite::Migration> v2(SqliteCaseStore::Migrations().begin(),
                                      SqliteCaseStore::Migrations().begin() + 2);
    ASSERT_TRUE((*db)->Migrate(v2).ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO rules VALUES ('acme', 'r1', x'')").ok());
  }
  auto store = SqliteCaseStore::Open(path, {}, /*durable=*/false);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectMigratedFromVersion2(**store);
}

}  // namespace
}  // namespace polku::cases
