// CaseStore on SQLite: one database file (<data_dir>/cases.db) with the
// rules, cases, audit trail and feed checkpoint. Only the primitives and
// their SQL are here; the algorithms are CaseStore's.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<SqliteCaseStore> store,
//                          SqliteCaseStore::Open(data_dir + "/cases.db"));
//
// Every call runs on the one connection, one at a time: its mutex is the
// store's write lock, under which the exactly-once key and the checkpoint
// are read and written. Case work is small next to insight's pages, so reads
// share the writer for now (a ReaderPool can take them when it matters).
#ifndef POLKU_SERVICES_CASES_SQLITE_SQLITE_CASE_STORE_H_
#define POLKU_SERVICES_CASES_SQLITE_SQLITE_CASE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/sqlite/sqlite.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

class SqliteCaseStore final : public CaseStore {
 public:
  // Opens (creating and migrating if needed) the database at `path`.
  // `durable` = false turns off fsync for tests.
  static absl::StatusOr<std::unique_ptr<SqliteCaseStore>> Open(
      const std::string& path, Options options = {}, bool durable = true);

  static const std::vector<sqlite::Migration>& Migrations();

 protected:
  absl::Status Run(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) override;

 private:
  class SqliteTransaction;

  SqliteCaseStore(Options options, std::unique_ptr<sqlite::Database> db)
      : CaseStore(std::move(options)), db_(std::move(db)) {}

  absl::Mutex mu_;
  std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_SQLITE_SQLITE_CASE_STORE_H_
