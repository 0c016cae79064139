// Journey files (`polku-journeys import`, tools/journeys/journey_import.h)
// and the rules polku-journey checks them with: no input crashes the
// parser, the validation or the versioning; a file that parses is written
// back in a form that parses to the same journey.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "services/journey/journey_validation.h"
#include "tools/journeys/journey_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto journey = polku::tools::ParseJourneyJson(text, "fuzz.json");
  if (!journey.ok()) {
    if (journey.status().code() != absl::StatusCode::kInvalidArgument)
      std::abort();
    return 0;
  }
  const std::string written = polku::tools::FormatJourneyJson(*journey);
  auto reread = polku::tools::ParseJourneyJson(written, "written.json");
  if (!reread.ok()) std::abort();
  if (polku::tools::FormatJourneyJson(*reread) != written) std::abort();

  if (polku::journey::ValidateJourney(*journey).ok()) {
    auto version = polku::journey::PrepareVersion(*journey, nullptr, false);
    if (version.ok()) {
      // A version made from a valid draft is itself valid.
      if (!polku::journey::ValidateJourney(*version).ok()) std::abort();
      auto next = polku::journey::PrepareVersion(*journey, &*version, false);
      (void)next;
    }
  }
  return 0;
}
