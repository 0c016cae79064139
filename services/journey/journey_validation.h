// Rules a journey map must satisfy before it is stored as a draft and again
// before a draft is frozen as a published version.
//
// Errors are INVALID_ARGUMENT and start with the path of the offending field
// as a client wrote it in CreateJourneyRequest, so a user can find it:
//
//   absl::Status status = ValidateJourney(request.journey());
//   // INVALID_ARGUMENT "journey.touchpoints[2].stage: unknown stage "buy"
//   //                   (stages: need, compare, decide)"
//
// Output-only fields (version, state, create_time, publish_time) are not
// checked: the store overwrites them.
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_VALIDATION_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_VALIDATION_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

// The longest journey, stage or touchpoint key.
inline constexpr int kMaxKeyLength = 64;

// True if `key` is 1–64 characters of lowercase a–z, digits, '-' or '_'.
bool IsValidKey(absl::string_view key);

// OK if `key` is valid; otherwise INVALID_ARGUMENT naming `field`.
absl::Status ValidateKey(absl::string_view key, absl::string_view field);

// Checks `journey` against every rule, with `is_known_channel` deciding which
// channel keys touchpoints may use. Returns the first violation.
absl::Status ValidateJourney(
    const polku::v1::Journey& journey,
    absl::FunctionRef<bool(absl::string_view)> is_known_channel);

// As above, against the built-in channel catalogue (channels.h).
absl::Status ValidateJourney(const polku::v1::Journey& journey);

// The version to freeze from `draft` (already valid), given the `latest`
// published version (null before the first publish): each touchpoint's
// `former_keys` is its rename chain, so that feedback under any earlier key
// can be counted under its current one.
//
// A touchpoint's `replaces` must name a touchpoint of `latest` that the draft
// no longer has (a rename), or a key already in its history (a `replaces`
// kept from an earlier rename); otherwise INVALID_ARGUMENT. A touchpoint of
// `latest` that the draft drops without a successor is FAILED_PRECONDITION
// unless `allow_removals`: polku-journey cannot see feedback, so it treats
// every published key as having some, and never orphans it silently.
absl::StatusOr<polku::v1::Journey> PrepareVersion(
    const polku::v1::Journey& draft, const polku::v1::Journey* latest,
    bool allow_removals);

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_VALIDATION_H_
