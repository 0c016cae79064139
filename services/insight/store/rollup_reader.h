// What queries read: summed rollups, and single counted events (the
// ledger). Analytics (analytics/) depend on these alone, so their tests run
// against the in-memory store without SQLite or libpq.
//
//   POLKU_ASSIGN_OR_RETURN(GroupedRollups days,
//                          rollups.Scorecard({.tenant = "acme", …,
//                                             .group_by = Grouping::kDay}));
//   POLKU_ASSIGN_OR_RETURN(int64_t as_of, ledger.ScanLedger(
//       {.tenant = "acme", .journey = "switching"},
//       [&](const CountedEvent& event) { …; return absl::OkStatus(); }));
#ifndef POLKU_SERVICES_INSIGHT_STORE_ROLLUP_READER_H_
#define POLKU_SERVICES_INSIGHT_STORE_ROLLUP_READER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/insight/store/rollup_math.h"
#include "services/insight/store/rollups.h"

namespace polku::insight {

class RollupReader {
 public:
  virtual ~RollupReader() = default;

  // Summed rollups per group of one tenant's journey, with the checkpoint
  // they reflect (read in one snapshot, so the two agree). A query with
  // attribute filters is summed from the ledger instead (same numbers).
  virtual absl::StatusOr<GroupedRollups> Scorecard(
      const ScorecardQuery& query) = 0;

  // Every (tenant, journey) with counted events, ordered; what the change
  // monitor evaluates when it starts.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() = 0;
};

class LedgerReader {
 public:
  virtual ~LedgerReader() = default;

  // Calls `visit` for every counted event of the query's tenant and journey
  // that matches its filters (versions, days, touchpoints, stage, channel,
  // attributes; its grouping is ignored), in sequence order, in one snapshot;
  // returns the checkpoint that snapshot reflects. `visit`'s error ends the
  // scan and is returned.
  virtual absl::StatusOr<int64_t> ScanLedger(
      const ScorecardQuery& query,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) = 0;

  // The tenant's counted events with these sequences, with every field, in
  // sequence order, read in one snapshot; a sequence not in the ledger
  // (never counted, another tenant's, or erased since) is left out. What
  // an index that keeps only numbers reads its few texts back with (the
  // theme index's examples).
  virtual absl::StatusOr<std::vector<CountedEvent>> LedgerEvents(
      const std::string& tenant, std::vector<int64_t> sequences) = 0;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ROLLUP_READER_H_
