// The conformance suite on PostgreSQL: a real server started by the test
// (lib/postgres/testing), a database per test, and for the replica and
// restart tests a second store on the same database.
#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "lib/postgres/testing/shared_server.h"
#include "services/cases/postgres/pg_case_store.h"
#include "services/cases/tests/case_store_conformance.h"

namespace polku::cases {
namespace {

std::unique_ptr<CaseStore> MakePostgres(CaseStore::Options options,
                                        const std::string& database) {
  static auto* urls = new std::map<std::string, std::string>;
  auto it = urls->find(database);
  if (it == urls->end()) {
    absl::StatusOr<std::string> url = postgres::testing::NewDatabase();
    EXPECT_TRUE(url.ok()) << url.status();
    if (!url.ok()) return nullptr;
    it = urls->emplace(database, *url).first;
  }
  auto store = PgCaseStore::Open(it->second, std::move(options));
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  return *std::move(store);
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, CaseStoreConformance,
    testing::Values(Backend{"postgres", &MakePostgres}),
    [](const testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace polku::cases
