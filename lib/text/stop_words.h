// Stop words and negation words of Finnish, Swedish and English, written for
// Polku (docs/themes.md): the function words that carry no theme, in folded
// form (Tokenizer). Finnish and Swedish lists hold base forms as well as
// common inflected ones, so that a word is a stop word whether its surface or
// its lemma is listed.
//
//   text::IsStopWord(text::Language::kSwedish, "och");     // true
//   text::IsNegation(text::Language::kEnglish, "doesn't"); // true
#ifndef POLKU_LIB_TEXT_STOP_WORDS_H_
#define POLKU_LIB_TEXT_STOP_WORDS_H_

#include "absl/strings/string_view.h"

#include "lib/text/language.h"

namespace polku::text {

// For kUnknown: a stop word of any of the three languages.
bool IsStopWord(Language language, absl::string_view folded);

// A word that negates the verb or adjective it goes with: Finnish's negative
// verb (ei, en, et, emme, ette, eivät, eikä, …, älä, älkää), Swedish inte,
// ej, icke, aldrig, English not, never, cannot and the n't contractions
// (doesn't, can't, … also written without the apostrophe). Never for kUnknown.
bool IsNegation(Language language, absl::string_view folded);

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_STOP_WORDS_H_
