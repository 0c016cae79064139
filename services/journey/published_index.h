// What a replica's WatchJourneys subscribers were last told: the latest
// published version of each journey. Another replica sharing the database
// publishes without this one knowing, so polku-journey re-reads the published
// set when JourneyStore::PublishedGeneration moves and asks this index what
// changed:
//
//   PublishedIndex::Changes changes =
//   index.Update(LatestVersions(*store.ListPublishedVersions()));
//   if (changes.removed || changes.skipped) hub.SendSnapshotToAll(versions);
//   else for (const PublishedJourney& p : changes.published) hub.Publish(…);
//
// Comparing whole states, rather than following a log of publishes, cannot
// miss a change that committed late: whatever the read shows is compared
// with what was sent. Intermediate versions published between two reads are
// not announced one by one: subscribers of the latest versions need only
// the latest, and those holding every version (polku-feedback) get a new
// snapshot instead (Changes::skipped). Not thread-safe (the store thread
// owns it).
#ifndef POLKU_SERVICES_JOURNEY_PUBLISHED_INDEX_H_
#define POLKU_SERVICES_JOURNEY_PUBLISHED_INDEX_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

class PublishedIndex {
 public:
  struct Changes {
    // Journeys new to the set or at a different version, in `latest` order.
    std::vector<polku::v1::PublishedJourney> published;
    // Some journey left the set (archived): subscribers need a new snapshot.
    bool removed = false;
    // Some journey moved on by more than one version (published through
    // another replica between two reads): subscribers holding every
    // version need a new snapshot to see the ones in between.
    bool skipped = false;
  };

  // Compares `latest` (ListPublishedLatest) with what was recorded, then
  // records `latest`.
  Changes Update(const std::vector<polku::v1::PublishedJourney>& latest);

  // Records a version this replica published and announced itself.
  void Record(absl::string_view tenant, const polku::v1::Journey& journey);

 private:
  // (tenant, journey key) → latest published version.
  absl::flat_hash_map<std::pair<std::string, std::string>, int> versions_;
};

// The last version of each journey of `versions` (ordered by tenant, key
// and version, as ListPublishedVersions answers): what ListPublishedLatest
// answers.
std::vector<polku::v1::PublishedJourney> LatestVersions(
    const std::vector<polku::v1::PublishedJourney>& versions);

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_PUBLISHED_INDEX_H_
