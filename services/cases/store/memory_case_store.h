// CaseStore in memory, for tests and as the reference the conformance suite
// holds the SQL backends to. A transaction works on a copy of the data and
// commits by swapping it in, so a failed or rolled-back one leaves nothing.
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
    // tenant → entries in order of appending.
    std::map<std::string, std::vector<v1::AuditEntry>> audit;
    // (tenant, customer hash) → contact allowed.
    std::map<std::pair<std::string, std::string>, bool> consent;
  };

 protected:
  absl::Status Run(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) override;

 private:
  class MemoryTransaction;

  absl::Mutex mu_;
  Data data_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_STORE_MEMORY_CASE_STORE_H_
