#include "services/feedback/touchpoint_index.h"

#include <algorithm>
#include <utility>

namespace polku::feedback {

std::vector<ResolvedTouchpoint> TouchpointSnapshot::Find(
    absl::string_view tenant, absl::string_view touchpoint) const {
  std::vector<ResolvedTouchpoint> found;
  auto tenant_it = tenants_.find(tenant);
  if (tenant_it == tenants_.end()) return found;
  for (const auto& [journey_key, versions] : *tenant_it->second) {
    const JourneyEntry& latest = *versions.rbegin()->second;
    auto it = latest.touchpoints.find(touchpoint);
    if (it != latest.touchpoints.end()) found.push_back(it->second);
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

std::optional<JourneyHistory> TouchpointSnapshot::History(
    absl::string_view tenant, absl::string_view journey) const {
  auto tenant_it = tenants_.find(tenant);
  if (tenant_it == tenants_.end()) return std::nullopt;
  auto it = tenant_it->second->find(journey);
  if (it == tenant_it->second->end()) return std::nullopt;
  return JourneyHistory{
      .latest_version = it->second.rbegin()->first,
      .first_published = it->second.begin()->second->published,
  };
}

const TouchpointSnapshot::JourneyEntry* TouchpointSnapshot::Version(
    absl::string_view tenant, absl::string_view journey,
    int32_t version) const {
  auto tenant_it = tenants_.find(tenant);
  if (tenant_it == tenants_.end()) return nullptr;
  auto it = tenant_it->second->find(journey);
  if (it == tenant_it->second->end()) return nullptr;
  auto entry = it->second.find(version);
  return entry == it->second.end() ? nullptr : entry->second.get();
}

bool TouchpointSnapshot::HasVersion(absl::string_view tenant,
                                    absl::string_view journey,
                                    int32_t version) const {
  return Version(tenant, journey, version) != nullptr;
}

std::optional<ResolvedTouchpoint> TouchpointSnapshot::FindInVersion(
    absl::string_view tenant, absl::string_view journey, int32_t version,
    absl::string_view touchpoint) const {
  const JourneyEntry* entry = Version(tenant, journey, version);
  if (entry == nullptr) return std::nullopt;
  auto it = entry->touchpoints.find(touchpoint);
  if (it == entry->touchpoints.end()) return std::nullopt;
  return it->second;
}

TouchpointIndex::TouchpointIndex()
    : current_(std::make_shared<const TouchpointSnapshot>()) {}

std::shared_ptr<const TouchpointSnapshot> TouchpointIndex::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

std::shared_ptr<const TouchpointSnapshot::JourneyEntry>
TouchpointIndex::EntryFor(const polku::v1::Journey& journey) {
  auto entry = std::make_shared<TouchpointSnapshot::JourneyEntry>();
  entry->version = journey.version();
  if (journey.has_publish_time()) {
    entry->published = absl::FromUnixSeconds(journey.publish_time().seconds()) +
                       absl::Nanoseconds(journey.publish_time().nanos());
  }
  for (const polku::v1::Touchpoint& touchpoint : journey.touchpoints()) {
    entry->touchpoints[touchpoint.key()] = ResolvedTouchpoint{
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
    tenants[published.tenant()][published.journey().key()]
           [published.journey().version()] = EntryFor(published.journey());
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
  // Copies the tenant's map of shared versions, not the versions.
  auto journeys = old_it == old_tenants.end()
                      ? std::make_shared<TouchpointSnapshot::TenantJourneys>()
                      : std::make_shared<TouchpointSnapshot::TenantJourneys>(
                            *old_it->second);
  (*journeys)[published.journey().key()][published.journey().version()] =
      EntryFor(published.journey());

  auto snapshot = std::make_shared<TouchpointSnapshot>(*current_);
  snapshot->tenants_[published.tenant()] = std::move(journeys);
  current_ = std::move(snapshot);
}

}  // namespace polku::feedback
