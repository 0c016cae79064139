// The in-memory touchpoint index polku-feedback validates events against:
// (tenant, touchpoint key) → the journey, journey version, stage, channel and
// kind of that touchpoint in the tenant's latest published journey versions.
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
#ifndef POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_
#define POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
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

// An immutable view of the index at one moment.
class TouchpointSnapshot {
 public:
  // True once a full set (Reset) has been received.
  bool loaded() const { return loaded_; }

  // Every published journey of `tenant` that has a touchpoint `touchpoint`,
  // ordered by journey key; empty if none.
  std::vector<ResolvedTouchpoint> Find(absl::string_view tenant,
                                       absl::string_view touchpoint) const;

  // Whether `tenant` has a published journey `journey`.
  bool HasJourney(absl::string_view tenant, absl::string_view journey) const;

 private:
  friend class TouchpointIndex;

  struct JourneyEntry {
    int32_t version = 0;
    // touchpoint key → where it sits.
    absl::flat_hash_map<std::string, ResolvedTouchpoint> touchpoints;
  };
  // journey key → latest published version's touchpoints.
  using TenantJourneys = absl::flat_hash_map<std::string, JourneyEntry>;

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

  // Replaces everything with `journeys` (every tenant's current published
  // versions) and marks the index loaded.
  void Reset(
      const google::protobuf::RepeatedPtrField<polku::v1::PublishedJourney>&
          journeys);

  // Replaces the entries of one journey with a newly published version. An
  // older version than the one held is ignored (a stale message after a
  // reconnect must not roll the map back).
  void Apply(const polku::v1::PublishedJourney& published);

 private:
  // The index entry of one published journey version.
  static TouchpointSnapshot::JourneyEntry EntryFor(
      const polku::v1::Journey& journey);

  mutable absl::Mutex mu_;
  std::shared_ptr<const TouchpointSnapshot> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_TOUCHPOINT_INDEX_H_
