// Lemmatisers: one folded word in, its base form (lemma) and compound parts
// out. Behind one interface so that the GPL-licensed Voikko stays optional
// (docs/themes.md, "Licence"):
//
//   Finnish  Voikko (libvoikko, voikko-fi), or Snowball when built with
//            -DPOLKU_VOIKKO=OFF or asked for FinnishAnalyser::kSnowball
//   Swedish  hunspell with sv_SE (hunspell-sv-se); Snowball for unknown words
//   English  Snowball (Porter 2): stems, not dictionary lemmas
//
//   absl::StatusOr<std::unique_ptr<text::Lemmatizer>> fi =
//       text::NewFinnishLemmatizer(text::FinnishAnalyser::kDefault);
//   text::WordAnalysis a = (*fi)->Lemmatize("toimitusajan", text::WordRole::kAny);
//   // a.lemma == "toimitusaika", a.compound_parts == {"toimitus", "aika"}
//
// Not thread-safe: Voikko's, hunspell's and Snowball's handles keep state
// between calls. Use one lemmatiser per thread (text::Analyzer keeps a pool).
#ifndef POLKU_LIB_TEXT_LEMMATIZER_H_
#define POLKU_LIB_TEXT_LEMMATIZER_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "lib/text/language.h"

namespace polku::text {

// How a word is used, where an analyser can tell readings apart.
enum class WordRole {
  kAny,      // the analyser's first reading (proper names last)
  kNegated,  // after a negation: a verb reading first ("ei toimi": toimia,
             // not the noun toimi)
};

struct WordAnalysis {
  // The base form, case-folded: a dictionary lemma, or a Snowball stem when
  // `fallback` (or for English, whose analyser is Snowball).
  std::string lemma;
  // The base forms of a compound's parts, in order ("korvauspäätöksestä":
  // korvaus, päätös); empty when the word is not a compound.
  std::vector<std::string> compound_parts;
  // The language's dictionary does not know the word (or the build has no
  // dictionary for it): `lemma` is a Snowball stem.
  bool fallback = false;
  // The analyser read the word as a verb (Voikko, for WordRole::kNegated
  // only): "eikä myyjä vastannut" negates vastannut, not myyjä.
  bool verb = false;
};

class Lemmatizer {
 public:
  virtual ~Lemmatizer() = default;
  // `word` is one word folded as Tokenizer folds it.
  virtual WordAnalysis Lemmatize(absl::string_view word, WordRole role) = 0;
};

// Which Finnish analyser NewFinnishLemmatizer builds.
enum class FinnishAnalyser {
  kDefault,   // Voikko if the build has it, else Snowball
  kVoikko,    // FAILED_PRECONDITION in a build with POLKU_VOIKKO=OFF
  kSnowball,  // every word a fallback: stems, no compound parts
};

// Whether this build links libvoikko (CMake option POLKU_VOIKKO).
bool VoikkoBuilt();

inline constexpr absl::string_view kDefaultVoikkoPath = "/usr/lib/voikko";
inline constexpr absl::string_view kDefaultSwedishDictionary =
    "/usr/share/hunspell/sv_SE";

// `voikko_path` is the directory that holds voikko-fi's dictionary
// (5/mor-standard/); NOT_FOUND names it when no dictionary is there.
absl::StatusOr<std::unique_ptr<Lemmatizer>> NewFinnishLemmatizer(
    FinnishAnalyser analyser,
    absl::string_view voikko_path = kDefaultVoikkoPath);

// `dictionary` is the path of sv_SE.aff and sv_SE.dic without the suffix;
// NOT_FOUND names the file that is missing.
absl::StatusOr<std::unique_ptr<Lemmatizer>> NewSwedishLemmatizer(
    absl::string_view dictionary = kDefaultSwedishDictionary);

// Snowball's stemmer for `language` (not kUnknown). `fallback` says what
// its analyses report: true where Snowball stands in for a dictionary.
absl::StatusOr<std::unique_ptr<Lemmatizer>> NewSnowballLemmatizer(
    Language language, bool fallback);

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_LEMMATIZER_H_
