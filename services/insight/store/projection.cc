#include "services/insight/store/projection.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

class LedgerProjection final : public Projection {
 public:
  const std::string& name() const override {
    static const std::string* name = new std::string(kLedgerProjection);
    return *name;
  }
  absl::Status Apply(ProjectionStorage& storage,
                     absl::Span<const CountedEvent> events) override {
    return storage.AppendToLedger(events);
  }
  absl::Status Erase(ProjectionStorage& storage, const v1::Erasure& erasure,
                     absl::Span<const CountedEvent>) override {
    return storage.ForgetCustomer(erasure.tenant(), erasure.customer_hash());
  }
};

// Summed per row first, so that a page touching one row many times costs
// one write of it; std::map keeps the write order deterministic.
absl::StatusOr<std::map<RollupKey, Contribution>> ContributionsOf(
    absl::Span<const CountedEvent> events) {
  std::map<RollupKey, Contribution> contributions;
  for (const CountedEvent& event : events) {
    POLKU_RETURN_IF_ERROR(Count(event, contributions[event.key]));
  }
  return contributions;
}

class RollupsProjection final : public Projection {
 public:
  const std::string& name() const override {
    static const std::string* name = new std::string(kRollupsProjection);
    return *name;
  }
  absl::Status Apply(ProjectionStorage& storage,
                     absl::Span<const CountedEvent> events) override {
    POLKU_ASSIGN_OR_RETURN(auto contributions, ContributionsOf(events));
    return storage.AddToRollups(contributions, 1);
  }
  // What the customer's counted events added, rebuilt exactly as Apply
  // counted it, taken away.
  absl::Status Erase(ProjectionStorage& storage, const v1::Erasure&,
                     absl::Span<const CountedEvent> counted) override {
    POLKU_ASSIGN_OR_RETURN(auto contributions, ContributionsOf(counted));
    return storage.AddToRollups(contributions, -1);
  }
};

// The chunks' algorithms (attribute_index.h) over the backend's storage.
class AttributeIndexProjection final : public Projection {
 public:
  const std::string& name() const override {
    static const std::string* name = new std::string(kAttributeIndexProjection);
    return *name;
  }
  absl::Status Apply(ProjectionStorage& storage,
                     absl::Span<const CountedEvent> events) override {
    const std::vector<AttributeChunkRow> chunks = ChunksOf(events);
    if (chunks.empty()) return absl::OkStatus();
    return storage.InsertAttributeChunks(chunks);
  }
  // Takes the customer's events out of the chunks that hold them: per
  // attribute, the chunk at each sequence, rewritten once (or deleted once
  // it holds none).
  absl::Status Erase(ProjectionStorage& storage, const v1::Erasure&,
                     absl::Span<const CountedEvent> counted) override {
    std::map<int64_t, std::vector<int64_t>> sequences;  // by attribute
    for (const CountedEvent& event : counted) {
      for (const auto& [name, value] : event.attributes) {
        sequences[AttributeKey(std::get<0>(event.key), std::get<1>(event.key),
                               name, value)]
            .push_back(event.sequence);
      }
    }
    for (auto& [attribute, erased] : sequences) {
      std::sort(erased.begin(), erased.end());
      erased.erase(std::unique(erased.begin(), erased.end()), erased.end());
      for (auto next = erased.begin(); next != erased.end();) {
        POLKU_ASSIGN_OR_RETURN(std::optional<AttributeChunkRow> chunk,
                               storage.AttributeChunkAt(attribute, *next));
        if (!chunk || chunk->last_sequence < *next) {
          ++next;  // in no chunk (the index and the ledger disagree)
          continue;
        }
        auto end = std::upper_bound(next, erased.end(), chunk->last_sequence);
        POLKU_ASSIGN_OR_RETURN(
            const ErasedChunk rest,
            WithoutEvents(chunk->events,
                          absl::MakeConstSpan(&*next, end - next)));
        next = end;
        if (rest.removed == 0) continue;
        POLKU_RETURN_IF_ERROR(
            rest.left == 0
                ? storage.DeleteAttributeChunk(attribute, chunk->first_sequence)
                : storage.ReplaceAttributeChunk(
                      attribute, chunk->first_sequence, rest.events));
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Projection> NewAttributeIndexProjection() {
  return std::make_unique<AttributeIndexProjection>();
}

std::unique_ptr<Projection> NewLedgerProjection() {
  return std::make_unique<LedgerProjection>();
}

std::unique_ptr<Projection> NewRollupsProjection() {
  return std::make_unique<RollupsProjection>();
}

}  // namespace polku::insight
