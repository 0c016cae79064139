// RollupStore in memory: the third backend, for tests of everything above
// the store (analytics, the service, the change monitor) without a
// database, and run through the same conformance suite as SQLite and
// PostgreSQL. Stores opened on one MemoryDatabase share its state, as
// replicas or restarts share a database.
//
//   auto db = std::make_shared<MemoryDatabase>();
//   MemoryRollupStore store(db);
//   POLKU_RETURN_IF_ERROR(store.Apply(page));
#ifndef POLKU_SERVICES_INSIGHT_STORE_MEMORY_ROLLUP_STORE_H_
#define POLKU_SERVICES_INSIGHT_STORE_MEMORY_ROLLUP_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/insight/store/rollup_store.h"

namespace polku::insight {

// What a database holds, as plain containers.
struct MemoryTables {
  int64_t sequence = 0;
  std::string feed_id;
  std::map<std::string, int64_t> projections;
  std::map<int64_t, CountedEvent> ledger;
  // By (attribute, first_sequence).
  std::map<std::pair<int64_t, int64_t>, AttributeChunkRow> attribute_chunks;
  std::map<RollupKey, Contribution> rollups;
  std::map<std::pair<std::string, std::string>, v1::Alert> alerts;
};

class MemoryDatabase {
 public:
  // A copy of every table, e.g. to compare two databases.
  MemoryTables Copy() const {
    absl::MutexLock lock(&mu_);
    return tables_;
  }

 private:
  friend class MemoryRollupStore;
  mutable absl::Mutex mu_;
  MemoryTables tables_ ABSL_GUARDED_BY(mu_);
};

class MemoryRollupStore : public RollupStore {
 public:
  explicit MemoryRollupStore(
      std::shared_ptr<MemoryDatabase> db = std::make_shared<MemoryDatabase>(),
      std::vector<std::unique_ptr<Projection>> extra = {});

  // SaveAlerts calls so far, for tests that check what was asked of the
  // store.
  int alert_writes() const { return alert_writes_; }

 protected:
  absl::Status Write(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) override;
  absl::Status Read(absl::FunctionRef<absl::Status(Snapshot&)> read) override;
  absl::Status WriteAlerts(const std::string& tenant,
                           const std::vector<v1::Alert>& alerts) override;
  std::string DatabaseName() const override { return "the memory database"; }
  std::string RebuildAdvice() const override {
    return "start a new memory database";
  }

 private:
  class MemoryTransaction;
  class MemorySnapshot;

  const std::shared_ptr<MemoryDatabase> db_;
  std::atomic<int> alert_writes_{0};
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_MEMORY_ROLLUP_STORE_H_
