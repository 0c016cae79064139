#include "services/journey/published_index.h"

namespace polku::journey {

PublishedIndex::Changes PublishedIndex::Update(
    const std::vector<polku::v1::PublishedJourney>& latest) {
  Changes changes;
  absl::flat_hash_map<std::pair<std::string, std::string>, int> versions;
  versions.reserve(latest.size());
  for (const polku::v1::PublishedJourney& published : latest) {
    std::pair<std::string, std::string> id(published.tenant(),
                                           published.journey().key());
    const int version = published.journey().version();
    auto known = versions_.find(id);
    if (known == versions_.end() || known->second != version) {
      changes.published.push_back(published);
      // A journey seen for the first time counts from version 0.
      const int before = known == versions_.end() ? 0 : known->second;
      if (version > before + 1) changes.skipped = true;
    }
    versions.emplace(std::move(id), version);
  }
  for (const auto& [id, version] : versions_) {
    if (!versions.contains(id)) {
      changes.removed = true;
      break;
    }
  }
  versions_ = std::move(versions);
  return changes;
}

void PublishedIndex::Record(absl::string_view tenant,
                            const polku::v1::Journey& journey) {
  versions_[{std::string(tenant), journey.key()}] = journey.version();
}

std::vector<polku::v1::PublishedJourney> LatestVersions(
    const std::vector<polku::v1::PublishedJourney>& versions) {
  std::vector<polku::v1::PublishedJourney> latest;
  for (size_t i = 0; i < versions.size(); ++i) {
    const bool last_of_journey =
        i + 1 == versions.size() ||
        versions[i + 1].tenant() != versions[i].tenant() ||
        versions[i + 1].journey().key() != versions[i].journey().key();
    if (last_of_journey) latest.push_back(versions[i]);
  }
  return latest;
}

}  // namespace polku::journey
