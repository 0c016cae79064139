#include "services/feedback/touchpoint_index.h"

#include <algorithm>
#include <utility>

namespace polku::feedback {

std::vector<ResolvedTouchpoint> TouchpointSnapshot::Find(
    absl::string_view tenant, absl::string_view touchpoint) const {
  std::vector<ResolvedTouchpoint> found;
  auto tenant_it = tenants_.find(tenant);
  if (tenant_it == tenants_.end()) return found;
  for (const auto& [journey_key, entry] : *tenant_it->second) {
    auto it = entry.touchpoints.find(touchpoint);
    if (it != entry.touchpoints.end()) found.push_back(it->second);
  }
  // Hash order is arbitrary; messages naming the journeys should not be.
  std::sort(found.begin(), found.end(),
            [](const ResolvedTouchpoint& a, const ResolvedTouchpoint& b) {
              return a.journey < b.journey;
            });
  return found;
}

bool TouchpointSnapshot::HasJourney(absl::string_view tenant,
                                    absl::string_view journey) const {
  auto tenant_it = tenants_.find(tenant);
  return tenant_it != tenants_.end() && tenant_it->second->contains(journey);
}

TouchpointIndex::TouchpointIndex()
    : current_(std::make_shared<const TouchpointSnapshot>()) {}

std::shared_ptr<const TouchpointSnapshot> TouchpointIndex::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

TouchpointSnapshot::JourneyEntry TouchpointIndex::EntryFor(
    const polku::v1::Journey& journey) {
  TouchpointSnapshot::JourneyEntry entry;
  entry.version = journey.version();
  for (const polku::v1::Touchpoint& touchpoint : journey.touchpoints()) {
    entry.touchpoints[touchpoint.key()] = ResolvedTouchpoint{
        .journey = journey.key(),
        .journey_version = journey.version(),
        .stage = touchpoint.stage(),
        .channel = touchpoint.channel(),
        .kind = touchpoint.kind(),
    };
  }
  return entry;
}

void TouchpointIndex::Reset(
    const google::protobuf::RepeatedPtrField<polku::v1::PublishedJourney>&
        journeys) {
  // Built outside the lock: readers keep the old view meanwhile.
  absl::flat_hash_map<std::string, TouchpointSnapshot::TenantJourneys> tenants;
  for (const polku::v1::PublishedJourney& published : journeys) {
    TouchpointSnapshot::JourneyEntry& entry =
        tenants[published.tenant()][published.journey().key()];
    if (entry.version <= published.journey().version()) {
      entry = EntryFor(published.journey());
    }
  }
  auto snapshot = std::make_shared<TouchpointSnapshot>();
  snapshot->loaded_ = true;
  for (auto& [tenant, journeys_of_tenant] : tenants) {
    snapshot->tenants_[tenant] =
        std::make_shared<const TouchpointSnapshot::TenantJourneys>(
            std::move(journeys_of_tenant));
  }
  absl::MutexLock lock(&mu_);
  current_ = std::move(snapshot);
}

void TouchpointIndex::Apply(const polku::v1::PublishedJourney& published) {
  // Publishes are rare and writers few: one writer at a time keeps the
  // copy-modify-swap simple, while readers only ever see whole snapshots.
  absl::MutexLock lock(&mu_);
  const auto& old_tenants = current_->tenants_;
  auto old_it = old_tenants.find(published.tenant());
  auto journeys = old_it == old_tenants.end()
                      ? std::make_shared<TouchpointSnapshot::TenantJourneys>()
                      : std::make_shared<TouchpointSnapshot::TenantJourneys>(
                            *old_it->second);
  auto existing = journeys->find(published.journey().key());
  if (existing != journeys->end() &&
      existing->second.version > published.journey().version()) {
    return;
  }
  (*journeys)[published.journey().key()] = EntryFor(published.journey());

  auto snapshot = std::make_shared<TouchpointSnapshot>(*current_);
  snapshot->tenants_[published.tenant()] = std::move(journeys);
  current_ = std::move(snapshot);
}

}  // namespace polku::feedback
