// Where journey maps and their versions live. Every operation is scoped to
// one tenant, except ListPublishedLatest and PublishedGeneration, which feed
// the service-to-service watch stream. Two implementations:
// SqliteJourneyStore (embedded, one process) and PgJourneyStore (PostgreSQL,
// any number of replicas sharing one database).
//
// A journey has one editable draft (version 0) and any number of published
// versions 1, 2, …, which never change once written:
//
//   JourneyStore& store = …;
//   POLKU_RETURN_IF_ERROR(store.CreateJourney("demo", journey).status());
//   // PrepareVersion (journey_validation.h) validates and adds the
//   // rename chains; its result is what gets frozen.
//   POLKU_ASSIGN_OR_RETURN(Journey v1,
//                          store.PublishDraft("demo", "home-renovation",
//                                             prepare));
//   POLKU_ASSIGN_OR_RETURN(Journey latest,
//                          store.GetJourney("demo", "home-renovation", 0));
//
// Output-only fields (version, state, create_time, publish_time, archived,
// touchpoints' former_keys) of journeys passed in are ignored; journeys
// returned carry them.
//
// Implementations are thread-safe; operations may block on disk or the
// network, so callers on gRPC threads hand them to an executor. A database
// that cannot be reached makes calls fail with UNAVAILABLE; later calls try
// again by themselves.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

// ListJourneys page size when the caller gives none, and the most it may ask.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

struct JourneyPage {
  // Ordered by key; each the latest published version, or the draft of a
  // journey never published.
  std::vector<polku::v1::Journey> journeys;
  // Empty on the last page.
  std::string next_page_token;
};

class JourneyStore {
 public:
  virtual ~JourneyStore() = default;

  // Stores `journey` as the draft of a new journey and returns it as stored.
  // ALREADY_EXISTS if the tenant already has a journey with its key.
  virtual absl::StatusOr<polku::v1::Journey> CreateJourney(
      absl::string_view tenant, const polku::v1::Journey& journey) = 0;

  // Replaces the draft of an existing journey (its key names which one).
  // NOT_FOUND if there is no such journey, FAILED_PRECONDITION if it is
  // archived. Published versions are untouched.
  virtual absl::StatusOr<polku::v1::Journey> UpdateDraft(
      absl::string_view tenant, const polku::v1::Journey& journey) = 0;

  // Replaces the draft with the content of the latest published version.
  // FAILED_PRECONDITION if the journey was never published, is archived, or
  // (unless `discard_changes`) its draft has unpublished edits.
  virtual absl::StatusOr<polku::v1::Journey> ResetDraft(
      absl::string_view tenant, absl::string_view key,
      bool discard_changes) = 0;

  // Exactly version `version`: 0 = the draft. NOT_FOUND naming it.
  virtual absl::StatusOr<polku::v1::Journey> GetVersion(
      absl::string_view tenant, absl::string_view key, int version) = 0;

  // One page of the journey's published versions, oldest first. Page size
  // and token as ListJourneys.
  virtual absl::StatusOr<JourneyPage> ListVersions(
      absl::string_view tenant, absl::string_view key, int page_size,
      absl::string_view page_token) = 0;

  // Marks the journey archived and returns its latest version (or draft).
  // Archiving twice is fine.
  virtual absl::StatusOr<polku::v1::Journey> Archive(absl::string_view tenant,
                                                     absl::string_view key) = 0;

  // Registers a channel of the tenant. ALREADY_EXISTS if it has one with
  // that key.
  virtual absl::StatusOr<polku::v1::Channel> CreateChannel(
      absl::string_view tenant, const polku::v1::Channel& channel) = 0;

  // The tenant's registered channels, ordered by key.
  virtual absl::StatusOr<std::vector<polku::v1::Channel>> ListChannels(
      absl::string_view tenant) = 0;

  // Published version `version`, or for 0 the latest published version —
  // the draft if the journey was never published. NOT_FOUND naming the key
  // (and version); INVALID_ARGUMENT for a negative version.
  virtual absl::StatusOr<polku::v1::Journey> GetJourney(
      absl::string_view tenant, absl::string_view key, int version) = 0;

  // One page of the tenant's journeys (archived ones only if
  // `include_archived`). `page_size` 0 means kDefaultPageSize; larger than
  // kMaxPageSize is capped. INVALID_ARGUMENT for a negative size or a token
  // that no earlier page returned.
  virtual absl::StatusOr<JourneyPage> ListJourneys(absl::string_view tenant,
                                                   int page_size,
                                                   absl::string_view page_token,
                                                   bool include_archived) = 0;

  // The draft and the latest published version (null before the first
  // publish) → the version to freeze, or why not.
  using PrepareVersionFn = absl::FunctionRef<absl::StatusOr<polku::v1::Journey>(
      const polku::v1::Journey& draft, const polku::v1::Journey* latest)>;

  // Freezes what `prepare` makes of the draft as version N+1 in one
  // transaction (validation runs here because the rules may have changed
  // since the draft was written). FAILED_PRECONDITION if the draft equals
  // version N ("draft unchanged since version N") or the journey is
  // archived; NOT_FOUND if there is no such journey; `prepare`'s error as is.
  virtual absl::StatusOr<polku::v1::Journey> PublishDraft(
      absl::string_view tenant, absl::string_view key,
      PrepareVersionFn prepare) = 0;

  // The latest published version of every published, unarchived journey of
  // every tenant, ordered by tenant then key.
  virtual absl::StatusOr<std::vector<polku::v1::PublishedJourney>>
  ListPublishedLatest() = 0;

  // Every published version of every published, unarchived journey of
  // every tenant, ordered by tenant, key, then version.
  virtual absl::StatusOr<std::vector<polku::v1::PublishedJourney>>
  ListPublishedVersions() = 0;

  // A number that changes with every publish and archive, including those
  // another replica makes in a shared database. A watcher polls it and
  // re-reads ListPublishedLatest only when it moved: cheap enough to ask a
  // few times a second. Read before ListPublishedLatest, it never hides a
  // change that read missed (the count commits with the change).
  virtual absl::StatusOr<int64_t> PublishedGeneration() = 0;
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_
