// A retry hint travels with a RESOURCE_EXHAUSTED absl::Status as a payload
// and leaves the server as the trailing metadata `retry-after-ms`, so a
// client knows when trying again is likely to succeed.
//
//   absl::Status full = absl::ResourceExhaustedError("the queue is full");
//   SetRetryAfter(full, absl::Milliseconds(200));
//   …
//   if (auto after = RetryAfter(status)) context.AddTrailingMetadata(
//       kRetryAfterHeader, absl::StrCat(absl::ToInt64Milliseconds(*after)));
#ifndef POLKU_SERVICES_FEEDBACK_RETRY_HINT_H_
#define POLKU_SERVICES_FEEDBACK_RETRY_HINT_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace polku::feedback {

// Trailing metadata of a RESOURCE_EXHAUSTED answer: after how many
// milliseconds a retry is likely to be accepted.
inline constexpr char kRetryAfterHeader[] = "retry-after-ms";

void SetRetryAfter(absl::Status& status, absl::Duration after);
// The hint `status` carries, if any.
absl::optional<absl::Duration> RetryAfter(const absl::Status& status);

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_RETRY_HINT_H_
