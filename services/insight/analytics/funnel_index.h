// The funnels' in-memory index: per (tenant, journey), every counted event
// with a customer as a compact touch (time, stage, channel, touchpoint,
// journey version, answers), grouped by customer in time order, so that a
// funnel or paths call over millions of events reads memory instead of the
// ledger.
//
// Kept exact, never stale: each use first brings the journey up to date
// from the ledger (only the events after the last sequence read,
// ScorecardQuery::after_sequence) and checks the number of events it holds
// against the journey's count in the rollups at the same checkpoint; a
// count that went down means an erasure took events away, and the journey
// is read again whole. The answer's as_of_sequence is that checkpoint.
// Attributes are not kept: a query filtering by attribute or broken down by
// one reads the ledger instead (ComputeFunnel without an index).
//
//   FunnelIndex index(store, store);
//   POLKU_ASSIGN_OR_RETURN(v1::Funnel funnel,
//                          ComputeFunnel(store, "acme", request, journey,
//                                        absl::Now(), &index));
//
// Memory: about 24 bytes per event plus one small vector per customer.
// Calls on one journey take turns (its lock is held while it is evaluated);
// calls on different journeys run in parallel.
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_INDEX_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_INDEX_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

// What a call asks of the index: events in [start, end) (microseconds), of
// one channel ("" = all) and journey version (0 = all), grouped by the
// entry touch's channel or version (kNone, kEntryChannel,
// kJourneyVersion).
struct FunnelIndexQuery {
  int64_t start = 0;
  int64_t end = 0;
  std::string channel;
  int32_t journey_version = 0;
  GroupBy group_by = GroupBy::kNone;
};

class FunnelIndex {
 public:
  // `rollups` and `ledger` (one store) must outlive the index.
  FunnelIndex(RollupReader& rollups, LedgerReader& ledger)
      : rollups_(rollups), ledger_(ledger) {}

  // Brings the tenant's journey up to date and runs `use` on its touches
  // as `query` selects them, with the checkpoint they reflect. The
  // source's stage names include every stage of `journey`.
  absl::Status Use(
      const std::string& tenant, const v1::Journey& journey,
      const FunnelIndexQuery& query,
      absl::FunctionRef<void(const FunnelSource& source, int64_t as_of)> use);

  // Events held (for tests and metrics).
  int64_t events() const;

 private:
  struct Touch {
    int64_t at = 0;
    int32_t touchpoint = 0;
    int16_t stage = 0;
    int16_t channel = 0;
    int16_t version = 0;
    int8_t csat = -1;
    int8_t nps = -1;
    int8_t ces = -1;
    bool rated = false;
  };
  struct Journey {
    absl::Mutex mu;
    // Every ledger event of the journey up to this sequence is held.
    int64_t as_of ABSL_GUARDED_BY(mu) = -1;
    // Ledger events read (with or without a customer), against the
    // rollups' count.
    int64_t counted ABSL_GUARDED_BY(mu) = 0;
    FunnelNames names ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> stage_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> channel_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> touchpoint_index
        ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, uint32_t> customer_index
        ABSL_GUARDED_BY(mu);
    std::vector<std::vector<Touch>> customers ABSL_GUARDED_BY(mu);
  };
  class Source;

  // Reads the ledger after `journey.as_of` into it; the scan's checkpoint.
  absl::StatusOr<int64_t> ReadAfter(const std::string& tenant,
                                    const std::string& key, Journey& journey)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  static void Clear(Journey& journey) ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  static int32_t Intern(absl::flat_hash_map<std::string, int32_t>& index,
                        std::vector<std::string>& names, const std::string& key);

  RollupReader& rollups_;
  LedgerReader& ledger_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Journey>>
      journeys_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> events_{0};
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_FUNNEL_INDEX_H_
