// The CaseStore --database_url asks for: PostgreSQL for a postgres:// or
// postgresql:// URL, else SQLite at <data_dir>/cases.db (the directory is
// created if missing).
#ifndef POLKU_SERVICES_CASES_SERVER_CASE_STORE_FACTORY_H_
#define POLKU_SERVICES_CASES_SERVER_CASE_STORE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

absl::StatusOr<std::unique_ptr<CaseStore>> OpenCaseStore(
    const std::string& database_url, const std::string& data_dir,
    CaseStore::Options options);

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SERVER_CASE_STORE_FACTORY_H_
