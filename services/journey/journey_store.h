// Where journey maps and their versions live. Every operation is scoped to
// one tenant, except ListPublishedLatest, which feeds the service-to-service
// watch stream.
//
// A journey has one editable draft (version 0) and any number of published
// versions 1, 2, …, which never change once written:
//
//   JourneyStore& store = …;
//   POLKU_RETURN_IF_ERROR(store.CreateJourney("demo", journey).status());
//   POLKU_ASSIGN_OR_RETURN(Journey v1, store.PublishDraft("demo",
//   "home-renovation",
//                                                          CheckDraft));
//   POLKU_ASSIGN_OR_RETURN(Journey latest, store.GetJourney("demo",
//   "home-renovation", 0));
//
// Output-only fields (version, state, create_time, publish_time) of journeys
// passed in are ignored; journeys returned carry them.
//
// Implementations are thread-safe; operations may block on disk, so callers
// on gRPC threads hand them to an executor.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_

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
  // NOT_FOUND if there is no such journey. Published versions are untouched.
  // (No RPC edits drafts yet; UpdateJourney comes in a later issue.)
  virtual absl::StatusOr<polku::v1::Journey> UpdateDraft(
      absl::string_view tenant, const polku::v1::Journey& journey) = 0;

  // Published version `version`, or for 0 the latest published version —
  // the draft if the journey was never published. NOT_FOUND naming the key
  // (and version); INVALID_ARGUMENT for a negative version.
  virtual absl::StatusOr<polku::v1::Journey> GetJourney(
      absl::string_view tenant, absl::string_view key, int version) = 0;

  // One page of the tenant's journeys. `page_size` 0 means
  // kDefaultPageSize; larger than kMaxPageSize is capped. INVALID_ARGUMENT
  // for a negative size or a token that no earlier page returned.
  virtual absl::StatusOr<JourneyPage> ListJourneys(
      absl::string_view tenant, int page_size,
      absl::string_view page_token) = 0;

  // Freezes the draft as version N+1 in one transaction, after
  // `check_draft` accepted it (validation runs again here because the rules
  // may have changed since the draft was written). FAILED_PRECONDITION if the
  // draft equals version N ("draft unchanged since version N"); NOT_FOUND if
  // there is no such journey; `check_draft`'s error as is.
  virtual absl::StatusOr<polku::v1::Journey> PublishDraft(
      absl::string_view tenant, absl::string_view key,
      absl::FunctionRef<absl::Status(const polku::v1::Journey& draft)>
          check_draft) = 0;

  // The latest published version of every published journey of every
  // tenant, ordered by tenant then key.
  virtual absl::StatusOr<std::vector<polku::v1::PublishedJourney>>
  ListPublishedLatest() = 0;
};

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_STORE_H_
