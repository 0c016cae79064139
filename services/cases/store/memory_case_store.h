// CaseStore in memory, for tests and as the reference the conformance suite
// holds the SQL backends to. A transaction works on a copy of the data and
// commits by swapping it in, so a failed or rolled-back one leaves nothing
// (the audit trail and the change sequence, which grow, are written on
// commit instead).
#ifndef POLKU_SERVICES_CASES_STORE_MEMORY_CASE_STORE_H_
#define POLKU_SERVICES_CASES_STORE_MEMORY_CASE_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/cases/store/case_store.h"

namespace polku::cases {

class MemoryCaseStore final : public CaseStore {
 public:
  explicit MemoryCaseStore(Options options = {}) : CaseStore(std::move(options)) {}

  struct Data {
    Transaction::FeedCheckpoint checkpoint;
    // (tenant, rule_id) → rule.
    std::map<std::pair<std::string, std::string>, v1::CaseRule> rules;
    // (tenant, case_id) → case.
    std::map<std::pair<std::string, std::string>, StoredCase> cases;
    // (tenant, customer hash) → contact allowed.
    std::map<std::pair<std::string, std::string>, bool> consent;
    // Tenant → its business calendar.
    std::map<std::string, v1::TenantBusinessCalendar> calendars;
    // The last change sequence given (the changes are kept apart: below).
    int64_t last_change = 0;
  };
  // tenant → audit entries in order of appending.
  using AuditTrails = std::map<std::string, std::vector<v1::AuditEntry>>;
  // sequence → (tenant, case_id, body).
  using Changes =
      std::map<int64_t, std::tuple<std::string, std::string, std::string>>;

 protected:
  absl::Status Run(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) override;

 private:
  class MemoryTransaction;

  absl::Mutex mu_;
  Data data_ ABSL_GUARDED_BY(mu_);
  // Not in Data, which every transaction copies (they only grow): a
  // transaction records what it appends and applies it when it commits.
  AuditTrails audit_ ABSL_GUARDED_BY(mu_);
  Changes changes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_STORE_MEMORY_CASE_STORE_H_
