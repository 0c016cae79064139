// What simulated customers write: short comments in Finnish, Swedish and
// English, composed from sentence banks written for Polku, with words in
// many inflected forms (cases, plurals, compounds; Swedish definite forms)
// so that lemmatisation matters to the themes found in them
// (docs/themes.md, "Planted themes in polku-sim").
//
//   Random random(seed);
//   std::string comment = WriteComment(
//       {.language = "fi", .sentiment = Sentiment::kNegative, .channel = "web",
//        .neutral_phrase = true, .theme = FindTheme("fi", "toimitus")},
//       random);
//   // "Kävin kaupassa. Toimitukset myöhästyvät aina, tämä ei ole ensimmäinen kerta."
//
// A comment is an optional neutral phrase followed by one sentence: a
// planted theme's sentence when one is given, else a sentence of the
// language's bank for the sentiment (the channel's own and the general
// ones). Every comment has 5–20 words.
#ifndef POLKU_TOOLS_SIMULATOR_COMMENTS_H_
#define POLKU_TOOLS_SIMULATOR_COMMENTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "tools/simulator/random.h"

namespace polku::sim {

enum class Sentiment {
  kNegative,  // a generic complaint (low scores)
  kNeutral,   // neither praise nor complaint
  kPositive,  // praise
};

// The languages comments are written in.
inline constexpr std::string_view kLanguages[] = {"fi", "sv", "en"};

// A complaint that can be planted (PlantedTheme): the sentences that
// mention it, each with `lemma` in a different inflected surface form.
struct ThemeForms {
  std::string_view language;
  // The term lib/text's Analyzer gives every sentence (for English a
  // Snowball stem: "deliveri").
  std::string_view lemma;
  // The word as written in its base form ("delivery"); equal to `lemma` in
  // Finnish and Swedish.
  std::string_view word;
  std::vector<std::string_view> sentences;
};

// Every plantable theme, in a fixed order.
const std::vector<ThemeForms>& Themes();
// The theme of `language` whose lemma or word is `name`; nullptr if none.
const ThemeForms* FindTheme(std::string_view language, std::string_view name);

// A phrase unrelated to satisfaction ("Kävin kaupassa.") that customers
// write as often with a low score as with any other: a theme must not find
// it. No other sentence of its language contains its lemmas.
struct NeutralPhrase {
  std::string_view language;
  std::string_view sentence;
  std::vector<std::string_view> lemmas;  // as lib/text's Analyzer gives them
};

// The neutral phrase of a language in kLanguages.
const NeutralPhrase& NeutralPhraseOf(std::string_view language);

// The bank's sentences for `language` and `sentiment`: the channel's own
// (shop, phone, web, email) followed by the general ones; never empty for a
// language in kLanguages. Unknown channels get the general ones.
std::vector<std::string_view> Sentences(std::string_view language, Sentiment sentiment,
                                        std::string_view channel);

struct CommentSpec {
  std::string_view language;
  Sentiment sentiment = Sentiment::kNeutral;
  std::string_view channel;
  // Starts with the language's neutral phrase.
  bool neutral_phrase = false;
  // A planted theme's sentence instead of the bank's (nullptr: none).
  const ThemeForms* theme = nullptr;
};

// One comment as `spec` says, its sentence drawn with `random`.
std::string WriteComment(const CommentSpec& spec, Random& random);

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_COMMENTS_H_
