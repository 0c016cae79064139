// Built-in journey templates a tenant can start a map from: the journey files
// shipped in examples/journeys/, compiled into the binary, each named by its
// file name without `.json` (which is also its key).
//
//   absl::StatusOr<polku::v1::Journey> start =
//       JourneyTemplate("generic-customer-journey");
//   start->set_key("my-journey");
#ifndef POLKU_SERVICES_JOURNEY_JOURNEY_TEMPLATES_H_
#define POLKU_SERVICES_JOURNEY_JOURNEY_TEMPLATES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

// The template names, sorted.
std::vector<std::string> JourneyTemplateNames();

// The template `name`; INVALID_ARGUMENT naming the known ones if there is no
// such template.
absl::StatusOr<polku::v1::Journey> JourneyTemplate(absl::string_view name);

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_JOURNEY_TEMPLATES_H_
