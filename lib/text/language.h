// The languages lib/text analyses: Finnish, Swedish and English (docs/themes.md).
//
//   absl::StatusOr<text::Language> l = text::ParseLanguage("sv-FI");  // kSwedish
//   text::LanguageCode(text::Language::kFinnish);                     // "fi"
#ifndef POLKU_LIB_TEXT_LANGUAGE_H_
#define POLKU_LIB_TEXT_LANGUAGE_H_

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace polku::text {

enum class Language {
  // Not said and not detected with confidence: the comment is tokenised
  // and case-folded, but not lemmatised.
  kUnknown,
  kFinnish,   // "fi"
  kSwedish,   // "sv"
  kEnglish,   // "en"
};

// "fi", "sv", "en", or "" for kUnknown.
absl::string_view LanguageCode(Language language);

// An event's `language`: "" is kUnknown (detect it); otherwise a BCP 47 tag
// whose primary subtag, in any case, is fi, sv or en ("fi", "sv-FI",
// "en_GB"). Anything else is INVALID_ARGUMENT.
absl::StatusOr<Language> ParseLanguage(absl::string_view tag);

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_LANGUAGE_H_
