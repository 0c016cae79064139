#include "services/feedback/retry_hint.h"

#include <cstdint>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace polku::feedback {
namespace {

constexpr char kRetryAfterPayload[] = "polku.retry-after-ms";

}  // namespace

void SetRetryAfter(absl::Status& status, absl::Duration after) {
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(after))));
}

absl::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterPayload);
  int64_t millis;
  if (!payload.has_value() ||
      !absl::SimpleAtoi(std::string(*payload), &millis)) {
    return absl::nullopt;
  }
  return absl::Milliseconds(millis);
}

}  // namespace polku::feedback
