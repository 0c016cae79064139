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

}  // namespace
}  // namespace polku::cases
