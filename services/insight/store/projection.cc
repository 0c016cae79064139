#include "services/insight/store/projection.h"

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

class AttributeIndexProjection final : public Projection {
 public:
  const std::string& name() const override {
    static const std::string* name = new std::string(kAttributeIndexProjection);
    return *name;
  }
  absl::Status Apply(ProjectionStorage& storage,
                     absl::Span<const CountedEvent> events) override {
    return storage.IndexAttributes(events);
  }
  absl::Status Erase(ProjectionStorage& storage, const v1::Erasure&,
                     absl::Span<const CountedEvent> counted) override {
    return storage.UnindexAttributes(counted);
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
