#include "lib/text/language.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polku::text {

absl::string_view LanguageCode(Language language) {
  switch (language) {
    case Language::kFinnish:
      return "fi";
    case Language::kSwedish:
      return "sv";
    case Language::kEnglish:
      return "en";
    case Language::kUnknown:
      break;
  }
  return "";
}

absl::StatusOr<Language> ParseLanguage(absl::string_view tag) {
  if (tag.empty()) return Language::kUnknown;
  absl::string_view primary = tag.substr(0, tag.find_first_of("-_"));
  const std::string lower = absl::AsciiStrToLower(primary);
  if (lower == "fi") return Language::kFinnish;
  if (lower == "sv") return Language::kSwedish;
  if (lower == "en") return Language::kEnglish;
  return absl::InvalidArgumentError(absl::StrCat(
      "language \"", tag,
      "\" is not Finnish, Swedish or English (fi, sv, en), nor empty to "
      "detect it"));
}

}  // namespace polku::text
