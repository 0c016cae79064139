// The touch index: per (tenant, journey), every counted event with a
// customer as a compact touch (time, stage, channel, touchpoint as
// recorded, journey version, answers), grouped by customer in time order
// (equal times: ledger order), so that funnels, paths and key drivers over
// millions of events read memory instead of the ledger. One instance serves
// every analytic that reads it (polku-insight's main.cc shares it).
//
// Kept exact, never stale: each read first checks the journey against the
// ledger (only the events after the last sequence read,
// ScorecardQuery::after_sequence) and the number of events it holds against
// the journey's count in the rollups at the same checkpoint; what is new is
// read in, and a count that went down means an erasure took events away, so
// the journey is read again whole. The view's as_of is that checkpoint.
// Attributes are not kept: a query filtering by attribute or broken down by
// one reads the ledger instead.
//
//   TouchIndex index(store, store);
//   POLKU_RETURN_IF_ERROR(index.Read("acme", "switching",
//       [&](const TouchView& view) { … view.touches(c) … view.as_of() … }));
//
// Memory: 24 bytes per event, plus per customer its touch vector (24 bytes),
// its hash in the lookup table (about 100 bytes) and its hash rank (4).
// Concurrency: bringing a journey up to date takes its lock exclusively
// (briefly when little is new); reads share it, so calls on one journey run
// side by side, as do calls on different journeys.
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_TOUCH_INDEX_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_TOUCH_INDEX_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

// One counted event of a customer.
struct Touch {
  // Unix microseconds (occurred_at).
  int64_t at = 0;
  // Index into TouchNames::touchpoints: the key as recorded in the feed
  // (rename chains are the reader's to apply).
  int32_t touchpoint = 0;
  // Indices into TouchNames::stages and ::channels.
  int16_t stage = 0;
  int16_t channel = 0;
  int16_t version = 0;
  // The answers; -1 = none.
  int8_t csat = -1;
  int8_t nps = -1;
  int8_t ces = -1;
  // Carries a CSAT, NPS or CES answer.
  bool rated = false;
};
static_assert(sizeof(Touch) == 24, "the memory note in touch_index.h");

// What touches' indices refer to, in the order first seen.
struct TouchNames {
  std::vector<std::string> stages;
  std::vector<std::string> channels;
  std::vector<std::string> touchpoints;
};

// A journey's touches as the index holds them, valid during TouchIndex::Read
// (the journey's lock is held, shared, meanwhile).
class TouchView {
 public:
  const TouchNames& names() const { return *names_; }
  // Customers are numbered 0 … customers() − 1; a customer may have no
  // touches.
  size_t customers() const { return customers_->size(); }
  // Customer `c`'s touches in time order, equal times in ledger order.
  const std::vector<Touch>& touches(size_t c) const { return (*customers_)[c]; }
  // Customer `c`'s place in the order of the customers' hashes (kept with
  // the touches, so that a reader needing that order, as the key drivers'
  // bootstrap does, need not sort a million hashes on every call).
  uint32_t hash_rank(size_t c) const { return (*hash_rank_)[c]; }
  // The ledger checkpoint the touches reflect exactly.
  int64_t as_of() const { return as_of_; }

 private:
  friend class TouchIndex;
  TouchView(const TouchNames* names,
            const std::vector<std::vector<Touch>>* customers,
            const std::vector<uint32_t>* hash_rank, int64_t as_of)
      : names_(names),
        customers_(customers),
        hash_rank_(hash_rank),
        as_of_(as_of) {}

  const TouchNames* names_;
  const std::vector<std::vector<Touch>>* customers_;
  const std::vector<uint32_t>* hash_rank_;
  int64_t as_of_;
};

class TouchIndex {
 public:
  // `rollups` and `ledger` (one store) must outlive the index.
  TouchIndex(RollupReader& rollups, LedgerReader& ledger)
      : rollups_(rollups), ledger_(ledger) {}

  // Brings the tenant's journey up to date and runs `read` on its touches
  // (under the journey's shared lock: `read` must not call the index).
  // UNAVAILABLE when the ledger moves faster than it can be caught up.
  absl::Status Read(const std::string& tenant, const std::string& journey,
                    absl::FunctionRef<void(const TouchView& view)> read);

  // Brings the tenant's journey up to date (loads it the first time).
  // `stop`, when set, ends a long read early with CANCELLED; what was read
  // before is kept consistent and the next call goes on from there.
  absl::Status Load(const std::string& tenant, const std::string& journey,
                    const std::atomic<bool>* stop = nullptr);

  // Events held (for tests and metrics).
  int64_t events() const;

 private:
  struct Journey {
    absl::Mutex mu;
    // Every ledger event of the journey up to this sequence is held.
    int64_t as_of ABSL_GUARDED_BY(mu) = -1;
    // Whether the touches agreed with the rollups at as_of when last
    // brought up to date (false while that is under way or after it
    // failed).
    bool agreed ABSL_GUARDED_BY(mu) = false;
    // Ledger events read (with or without a customer), against the
    // rollups' count.
    int64_t counted ABSL_GUARDED_BY(mu) = 0;
    TouchNames names ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> stage_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> channel_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> touchpoint_index
        ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, uint32_t> customer_index
        ABSL_GUARDED_BY(mu);
    std::vector<std::vector<Touch>> customers ABSL_GUARDED_BY(mu);
    // Per customer, its place in hash order (TouchView::hash_rank); brought
    // up to date with the touches when customers were added.
    std::vector<uint32_t> hash_rank ABSL_GUARDED_BY(mu);
  };

  Journey& JourneyOf(const std::string& tenant, const std::string& key);
  // Reads what is new and checks against the rollups until the two agree;
  // the checkpoint they agree at.
  absl::StatusOr<int64_t> CatchUp(const std::string& tenant,
                                  const std::string& key, Journey& journey,
                                  const std::atomic<bool>* stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  // Without changing anything: the checkpoint at which the journey as held
  // is exact, if the ledger gained none of its events and lost none since
  // it was brought up to date; nullopt otherwise.
  absl::StatusOr<std::optional<int64_t>> Check(const std::string& tenant,
                                               const std::string& key,
                                               const Journey& journey)
      ABSL_SHARED_LOCKS_REQUIRED(journey.mu);
  // Reads the ledger after `journey.as_of` into it; the scan's checkpoint.
  absl::StatusOr<int64_t> ReadAfter(const std::string& tenant,
                                    const std::string& key, Journey& journey,
                                    const std::atomic<bool>* stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  // The journey's events in the rollups, and the checkpoint of that count.
  absl::StatusOr<std::pair<int64_t, int64_t>> CountedInRollups(
      const std::string& tenant, const std::string& key);
  void Clear(Journey& journey) ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  static void RankByHash(Journey& journey)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
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

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_TOUCH_INDEX_H_
