#include "services/cases/server/case_store_factory.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/cases/postgres/pg_case_store.h"
#include "services/cases/sqlite/sqlite_case_store.h"

namespace polku::cases {

absl::StatusOr<std::unique_ptr<CaseStore>> OpenCaseStore(
    const std::string& database_url, const std::string& data_dir,
    CaseStore::Options options) {
  if (absl::StartsWith(database_url, "postgres://") ||
      absl::StartsWith(database_url, "postgresql://")) {
    auto store = PgCaseStore::Open(database_url, std::move(options));
    if (!store.ok()) return store.status();
    return std::unique_ptr<CaseStore>(*std::move(store));
  }
  if (!database_url.empty()) {
    return absl::InvalidArgumentError(
        "--database_url: expected postgres://… or nothing (SQLite)");
  }
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create the data directory ", data_dir, ": ", error.message()));
  }
  auto store = SqliteCaseStore::Open(data_dir + "/cases.db", std::move(options));
  if (!store.ok()) return store.status();
  return std::unique_ptr<CaseStore>(*std::move(store));
}

}  // namespace polku::cases
