// The in-memory touchpoint index polku-feedback validates events against:
// (tenant, touchpoint key) → the journey, journey version, stage, channel and
// kind of that touchpoint in the tenant's latest published journey versions.
// It also holds every earlier published version, for back-filled history
// validated against a version the caller names (FindInVersion).
//
// The journey service streams published versions (see JourneyWatcher); the
// index is rebuilt from them, never fetched per event. Readers take an
// immutable snapshot, so a whole batch validates against one consistent view
// and lookups cost one shared_ptr copy:
//
//   TouchpointIndex index;
//   index.Reset(watch_response.journeys());       // the full set
//   index.Apply(published);                        // one new journey version
//   std::shared_ptr<const TouchpointSnapshot> now = index.Current();
//   for (const ResolvedTouchpoint& t : now->Find("demo", "confirmation_call"))
//   …
//
// A touchpoint key may be used by several journeys of one tenant; Find then
// returns one entry per journey and the event must name its journey.
//
//   std::optional<JourneyHistory> h = now->History("demo", "switching");
//   if (occurred < h->first_published)
//     now->FindInVersion("demo", "switching", 1, "service_call");
#ifndef POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_
#define POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "polku/v1/journey.pb.h"

namespace polku::feedback {

// Where a touchpoint sits in a published journey version.
struct ResolvedTouchpoint {
  std::string journey;
  int32_t journey_version = 0;
  std::string stage;
  std::string channel;
  polku::v1::TouchpointKind kind = polku::v1::TOUCHPOINT_KIND_UNSPECIFIED;
};

// What the index knows of one journey's published versions.
struct JourneyHistory {
  int32_t latest_version = 0;
  // When the earliest version held (normally version 1) was published;
  // the infinite past if unknown, so that no event counts as older.
  absl::Time first_published = absl::InfinitePast();
};

// An immutable view of the index at one moment.
class TouchpointSnapshot {
 public:
  // True once a full set (Reset) has been received.
  bool loaded() const { return loaded_; }

  // Every published journey of `tenant` that has a touchpoint `touchpoint`
  // in its latest version, ordered by journey key; empty if none.
  std::vector<ResolvedTouchpoint> Find(absl::string_view tenant,
                                       absl::string_view touchpoint) const;

  // Whether `tenant` has a published journey `journey`.
  bool HasJourney(absl::string_view tenant, absl::string_view journey) const;

  // The published versions of `tenant`'s `journey`; nullopt if it has none.
  std::optional<JourneyHistory> History(absl::string_view tenant,
                                        absl::string_view journey) const;

  // Whether version `version` of the journey is held.
  bool HasVersion(absl::string_view tenant, absl::string_view journey,
                  int32_t version) const;

  // Where `touchpoint` sits in version `version` of the journey; nullopt if
  // that version is not held or lacks the touchpoint.
  std::optional<ResolvedTouchpoint> FindInVersion(
      absl::string_view tenant, absl::string_view journey, int32_t version,
      absl::string_view touchpoint) const;

 private:
  friend class TouchpointIndex;

  struct JourneyEntry {
    int32_t version = 0;
    absl::Time published = absl::InfinitePast();
    // touchpoint key → where it sits.
    absl::flat_hash_map<std::string, ResolvedTouchpoint> touchpoints;
  };
  // Every version held of one journey; the last is the latest. Versions
  // never change once published, so snapshots share them.
  using JourneyVersions =
      std::map<int32_t, std::shared_ptr<const JourneyEntry>>;
  // journey key → its versions.
  using TenantJourneys = absl::flat_hash_map<std::string, JourneyVersions>;

  const JourneyEntry* Version(absl::string_view tenant,
                              absl::string_view journey, int32_t version) const;

  bool loaded_ = false;
  // Shared between snapshots, so that Apply copies only the tenant it changes.
  absl::flat_hash_map<std::string, std::shared_ptr<const TenantJourneys>>
      tenants_;
};

// Thread-safe holder of the current snapshot.
class TouchpointIndex {
 public:
  TouchpointIndex();

  // The current view; cheap, never blocks on a writer for long.
  std::shared_ptr<const TouchpointSnapshot> Current() const;

  // Replaces everything with `journeys` (every tenant's published versions:
  // the current ones, and the earlier ones too when the watch asked for
  // them) and marks the index loaded.
  void Reset(
      const google::protobuf::RepeatedPtrField<polku::v1::PublishedJourney>&
          journeys);

  // Adds a newly published version of one journey; it becomes the one Find
  // answers from unless a later version is held (a stale message after a
  // reconnect must not roll the map back).
  void Apply(const polku::v1::PublishedJourney& published);

 private:
  // The index entry of one published journey version.
  static std::shared_ptr<const TouchpointSnapshot::JourneyEntry> EntryFor(
      const polku::v1::Journey& journey);

  mutable absl::Mutex mu_;
  std::shared_ptr<const TouchpointSnapshot> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_
