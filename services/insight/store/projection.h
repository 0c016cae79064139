// A projection keeps one kind of state derived from the change feed (the
// ledger of counted events, the daily rollups; later drivers, funnels,
// themes) in the insight database. RollupStore hands every page of the feed
// to each registered projection inside the page's transaction, and every
// erasure with the erased customer's counted events, so that each projection
// counts every event exactly once and forgets an erased customer, across
// restarts and replicas alike (docs/replicas.md).
//
// Each projection has its own checkpoint. One registered on a database that
// already holds data starts behind the ledger and catches up from it
// (RollupStore::CatchUpStep) while the others go on with the feed.
//
//   class ThemesProjection : public Projection {
//     const std::string& name() const override;     // "themes"
//     absl::Status Apply(ProjectionStorage& storage,
//                        absl::Span<const CountedEvent> events) override;
//     absl::Status Erase(ProjectionStorage& storage, const v1::Erasure&
//     erasure,
//                        absl::Span<const CountedEvent> counted) override;
//   };
#ifndef POLKU_SERVICES_INSIGHT_STORE_PROJECTION_H_
#define POLKU_SERVICES_INSIGHT_STORE_PROJECTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "polku/v1/feedback.pb.h"
#include "services/insight/store/attribute_index.h"
#include "services/insight/store/rollup_math.h"

namespace polku::insight {

// What a projection may write, inside the transaction of the page (or
// erasure, or catch-up step) it is given. Each backend supplies these.
class ProjectionStorage {
 public:
  virtual ~ProjectionStorage() = default;

  // Records counted events in the ledger (counted_events, event_details).
  // A sequence recorded already is an error: the ledger and the
  // checkpoints disagree.
  virtual absl::Status AppendToLedger(
      absl::Span<const CountedEvent> events) = 0;
  // Deletes every ledger row of the customer.
  virtual absl::Status ForgetCustomer(const std::string& tenant,
                                      const std::string& customer_hash) = 0;
  // New chunks of the attribute index (attribute_index.h). One whose
  // (attribute, first_sequence) is stored already is an error, as for the
  // ledger: the index and its checkpoint disagree.
  virtual absl::Status InsertAttributeChunks(
      absl::Span<const AttributeChunkRow> chunks) = 0;
  // The chunk of `attribute` with the greatest first_sequence ≤ `sequence`
  // (the only one that may hold it), if there is one.
  virtual absl::StatusOr<std::optional<AttributeChunkRow>> AttributeChunkAt(
      int64_t attribute, int64_t sequence) = 0;
  // Stores `events` as the chunk's (after an erasure), or deletes it.
  virtual absl::Status ReplaceAttributeChunk(int64_t attribute,
                                             int64_t first_sequence,
                                             const std::string& events) = 0;
  virtual absl::Status DeleteAttributeChunk(int64_t attribute,
                                            int64_t first_sequence) = 0;
  // Adds (sign 1) or subtracts (sign -1) each row's counts, histograms and
  // measure sums; rows and measure sums left empty are deleted, as if never
  // written.
  virtual absl::Status AddToRollups(
      const std::map<RollupKey, Contribution>& contributions, int sign) = 0;
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Names its checkpoint in the database: never changes once data exists.
  virtual const std::string& name() const = 0;

  // Counts `events`: new to this projection, in sequence order.
  virtual absl::Status Apply(ProjectionStorage& storage,
                             absl::Span<const CountedEvent> events) = 0;

  // Forgets an erased customer: `counted` are the customer's events this
  // projection counted (all of them, from the ledger).
  virtual absl::Status Erase(ProjectionStorage& storage,
                             const v1::Erasure& erasure,
                             absl::Span<const CountedEvent> counted) = 0;
};

// The ledger: every counted event with everything analytics need. Always
// the first projection; the others catch up from it.
std::unique_ptr<Projection> NewLedgerProjection();
inline constexpr char kLedgerProjection[] = "ledger";

// The ledger's attribute index, which scans filtered by an attribute read
// (RollupStore uses it once it has caught up).
std::unique_ptr<Projection> NewAttributeIndexProjection();
inline constexpr char kAttributeIndexProjection[] = "attribute_index";

// The daily rollups (rollups, rollup_measures) scorecards and trends read.
std::unique_ptr<Projection> NewRollupsProjection();
inline constexpr char kRollupsProjection[] = "rollups";

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_PROJECTION_H_
