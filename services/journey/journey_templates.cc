#include "services/journey/journey_templates.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "services/journey/journey_templates_data.h"

namespace polku::journey {

std::vector<std::string> JourneyTemplateNames() {
  std::vector<std::string> names;
  for (const TemplateFile& file : kTemplateFiles) names.emplace_back(file.name);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<polku::v1::Journey> JourneyTemplate(absl::string_view name) {
  for (const TemplateFile& file : kTemplateFiles) {
    if (file.name != name) continue;
    polku::v1::Journey journey;
    auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(file.json.data(), file.json.size()),
        &journey);
    if (!parsed.ok()) {
      // examples_test proves every shipped file parses.
      return absl::InternalError(
          absl::StrCat("template \"", name,
                       "\" does not parse: ", parsed.message().as_string()));
    }
    return journey;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "template: no template \"", name,
      "\" (templates: ", absl::StrJoin(JourneyTemplateNames(), ", "), ")"));
}

}  // namespace polku::journey
