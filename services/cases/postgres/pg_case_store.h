// CaseStore on PostgreSQL, for replicas of polku-cases sharing one database
// (--database_url=postgres://…). Only the primitives and their SQL are
// here; the algorithms are CaseStore's.
//
//   POLKU_ASSIGN_OR_RETURN(std::unique_ptr<PgCaseStore> store,
//                          PgCaseStore::Open(url));
//
// The store's write lock is the checkpoint row: every feed transaction
// reads it with SELECT … FOR UPDATE, so replicas take turns and the second
// finds the first's cases (and the unique key would refuse a second one
// anyway). A case is read FOR UPDATE before it is changed, so two people
// updating one case at once are serialised, not lost; SLA alerts read the
// open cases FOR UPDATE, so two replicas never raise one twice.
#ifndef POLKU_SERVICES_CASES_POSTGRES_PG_CASE_STORE_H_
#define POLKU_SERVICES_CASES_POSTGRES_PG_CASE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "lib/base/migration.h"
#include "lib/postgres/pool.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

class PgCaseStore final : public CaseStore {
 public:
  // Connects and migrates (component "cases"; tables cases, case_rules,
  // case_audit, case_feed_checkpoint).
  static absl::StatusOr<std::unique_ptr<PgCaseStore>> Open(
      const std::string& url, Options options = {}, int connections = 4);

  static const std::vector<Migration>& Migrations();

  // NOTIFYed by every transaction that writes changes.
  static constexpr char kNotifyChannel[] = "polku_case_changes";

  // LISTENs on its own connection (reconnecting with a backoff).
  void ListenForCommits(absl::Notification& stop,
                        absl::FunctionRef<void()> heard) override;

 protected:
  absl::Status Run(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) override;

 private:
  class PgTransaction;

  PgCaseStore(const std::string& url, Options options, int connections);

  const std::string url_;
  postgres::Pool pool_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_POSTGRES_PG_CASE_STORE_H_
