// What the SQLite and PostgreSQL journey stores share beyond the interface:
// the stored form of a journey, page tokens and page sizes. Both stores keep
// the same layout (journeys, journey_versions, channels) so that these
// behave the same on either backend.
//
//   const std::string body = SerializeContent(journey);  // what is stored
//   Journey draft = DraftView(body, key, create_time_us);  // what is shown
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_STORE_COMMON_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_STORE_COMMON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "polku/v1/journey.pb.h"
#include "services/journey/journey_store.h"

namespace polku::journey::store_internal {

// The stored form: the journey's content only, serialized deterministically
// so that an unchanged draft has the same bytes as the version it came from.
// A published version keeps its rename chains (`keep_history`); a draft has
// none, so they are left out when comparing the two.
std::string SerializeContent(const polku::v1::Journey& journey,
                             bool keep_history = false);

void SetTimestamp(int64_t unix_micros, google::protobuf::Timestamp& out);

// A draft body as the API shows it: key, version, state and creation time are
// the server's, not the body's.
polku::v1::Journey DraftView(const std::string& body, absl::string_view key,
                             int64_t create_time_us);

// Page tokens name the last item of the previous page (a journey key, or a
// version number as text).
std::string EncodePageToken(absl::string_view last);
absl::StatusOr<std::string> DecodePageToken(absl::string_view token);

// The effective page size; INVALID_ARGUMENT if negative.
absl::StatusOr<int> PageSize(int page_size);

// The journey key a ListJourneys token names ("" for the first page).
absl::StatusOr<std::string> KeyAfter(absl::string_view token);

// The rest of a ListVersions token: the version the previous page ended at.
absl::StatusOr<int> DecodeVersionToken(absl::string_view token);

// A page read with one row more than `page_size`: the extra row says that
// another page follows; it is dropped and the token names the last journey
// (or, `by_version`, the last version) kept.
void EndPage(int page_size, bool by_version, JourneyPage& page);

// INVALID_ARGUMENT for a negative version; what 0 means is said in the
// message (the latest published version, or the draft).
absl::Status CheckVersion(int version, bool zero_is_latest);

// NOT_FOUND for a version the journey does not have.
absl::Status NoSuchVersion(absl::string_view key, int version,
                           int latest_version, bool say_never_published);

}  // namespace polku::journey::store_internal

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_STORE_COMMON_H_
