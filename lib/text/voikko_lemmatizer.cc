#include "lib/text/voikko_lemmatizer.h"

#include <libvoikko/voikko.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/text/snowball_lemmatizer.h"
#include "lib/text/tokenizer.h"

namespace polku::text {
namespace {

struct Reading {
  std::string baseform;
  std::string word_class;  // Voikko's CLASS: nimisana, teonsana, …
  std::string wordbases;   // "+korva(korvata)+us(+us)+päätös(päätös)"
  std::string participle;  // PARTICIPLE: past_active, …
  std::string mood;        // MOOD: indicative, imperative, …
  bool possessive = false;  // has a possessive suffix (POSSESSIVE)
  size_t parts = 0;         // compound parts
};

std::string Value(const voikko_mor_analysis* analysis, const char* key) {
  char* value = voikko_mor_analysis_value_cstr(analysis, key);
  if (value == nullptr) return "";
  std::string out(value);
  voikko_free_mor_analysis_value_cstr(value);
  return out;
}

bool IsName(const Reading& r) {
  return r.word_class == "etunimi" || r.word_class == "sukunimi" ||
         r.word_class == "paikannimi" || r.word_class == "nimi";
}

// WORDBASES lists morphemes, "+surface(base)"; a derivational suffix has a
// base that starts with '+' ("+us(+us)"), an inflectional one none ("+n").
// A compound part begins at every morpheme with a base of its own; its text
// is the surfaces of its morphemes, which Voikko gives in base form
// ("+toimit(toimittaa)+us(+us)+aika(aika)": toimitus, aika).
std::vector<std::string> CompoundParts(absl::string_view wordbases) {
  std::vector<std::string> parts;
  std::string prefix;  // "+epä+selvä(selvä)": epä- is no part of its own
  size_t i = 0;
  while (i < wordbases.size()) {
    if (wordbases[i] != '+') return {};  // not the format we know
    size_t end = wordbases.find('+', i + 1);
    // A '+' inside parentheses belongs to the base: "(+us)".
    size_t open = wordbases.find('(', i + 1);
    if (open != wordbases.npos && (end == wordbases.npos || open < end)) {
      size_t close = wordbases.find(')', open);
      if (close == wordbases.npos) return {};
      end = close + 1;
    }
    if (end == wordbases.npos) end = wordbases.size();
    absl::string_view morpheme = wordbases.substr(i + 1, end - i - 1);
    i = end;
    const size_t paren = morpheme.find('(');
    absl::string_view surface = morpheme.substr(0, paren);
    if (paren == morpheme.npos || morpheme[paren + 1] == '+') {
      // An affix: it belongs to the part before it, or a prefix to the next.
      if (parts.empty()) {
        prefix.append(surface.data(), surface.size());
      } else {
        parts.back().append(surface.data(), surface.size());
      }
      continue;
    }
    // A lexicalised compound keeps its parts in its base:
    // "+kotiinkuljetus(kotiin=kuljetus)".
    absl::string_view base =
        morpheme.substr(paren + 1, morpheme.size() - paren - 2);
    if (base.find('=') != base.npos && prefix.empty()) {
      for (absl::string_view piece : absl::StrSplit(base, '=')) {
        parts.emplace_back(piece);
      }
      continue;
    }
    parts.push_back(absl::StrCat(prefix, surface));
    prefix.clear();
  }
  return parts;
}

std::tuple<bool, bool, bool, bool, size_t> Rank(const Reading& r) {
  return {IsName(r), r.mood == "imperative", r.possessive,
          !r.participle.empty(), r.parts};
}

// The base of WORDBASES' first morpheme: "+saa(saada)+n+ut(+ut)" → saada.
std::string FirstBase(absl::string_view wordbases) {
  const size_t open = wordbases.find('(');
  const size_t close = wordbases.find(')', open);
  if (open == wordbases.npos || close == wordbases.npos) return "";
  return std::string(wordbases.substr(open + 1, close - open - 1));
}

class VoikkoLemmatizer : public Lemmatizer {
 public:
  VoikkoLemmatizer(VoikkoHandle* voikko, SnowballStemmer fallback)
      : voikko_(voikko), fallback_(std::move(fallback)) {}
  ~VoikkoLemmatizer() override { voikkoTerminate(voikko_); }

  WordAnalysis Lemmatize(absl::string_view word, WordRole role) override {
    std::vector<Reading> readings = Readings(word);
    if (readings.empty()) {
      return WordAnalysis{.lemma = fallback_.Stem(word), .fallback = true};
    }
    // Without context, a word's readings are ranked by what customers'
    // comments are likely to say: not a proper name (case is folded), not
    // an order (imperative), not a possessive suffix, not a participle in
    // a case ("toimitusta" is toimitus, not toimittu), the fewest compound
    // parts ("nettisivuilta" is nettisivu, not netti+sivu+ilta); then
    // Voikko's order.
    std::stable_sort(readings.begin(), readings.end(),
                     [](const Reading& a, const Reading& b) {
                       return Rank(a) < Rank(b);
                     });
    const Reading* chosen = nullptr;
    if (role == WordRole::kNegated) {
      for (const Reading& r : readings) {
        if (r.word_class == "teonsana" || r.participle == "past_active") {
          chosen = &r;
          break;
        }
      }
    }
    WordAnalysis analysis;
    analysis.verb = chosen != nullptr;
    if (chosen == nullptr) chosen = &readings.front();

    // "en saanut" is the negation of saada: a negated past participle
    // stands for its verb.
    if (role == WordRole::kNegated && chosen->participle == "past_active") {
      analysis.lemma = FoldWord(FirstBase(chosen->wordbases));
    }
    if (analysis.lemma.empty()) analysis.lemma = FoldWord(chosen->baseform);
    std::vector<std::string> parts = CompoundParts(chosen->wordbases);
    if (parts.size() > 1) {
      for (std::string& part : parts) {
        std::string folded = FoldWord(part);
        if (!folded.empty()) analysis.compound_parts.push_back(std::move(folded));
      }
    }
    return analysis;
  }

 private:
  std::vector<Reading> Readings(absl::string_view word) {
    std::vector<Reading> readings;
    const std::string terminated(word);
    voikko_mor_analysis** analyses =
        voikkoAnalyzeWordCstr(voikko_, terminated.c_str());
    if (analyses == nullptr) return readings;
    for (int i = 0; analyses[i] != nullptr; ++i) {
      readings.push_back(Reading{
          .baseform = Value(analyses[i], "BASEFORM"),
          .word_class = Value(analyses[i], "CLASS"),
          .wordbases = Value(analyses[i], "WORDBASES"),
          .participle = Value(analyses[i], "PARTICIPLE"),
          .mood = Value(analyses[i], "MOOD"),
          .possessive = !Value(analyses[i], "POSSESSIVE").empty(),
      });
      readings.back().parts = CompoundParts(readings.back().wordbases).size();
      if (readings.back().baseform.empty()) readings.pop_back();
    }
    voikko_free_mor_analysis(analyses);
    return readings;
  }

  VoikkoHandle* const voikko_;
  SnowballStemmer fallback_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Lemmatizer>> NewVoikkoLemmatizer(
    absl::string_view voikko_path) {
  const std::string path(voikko_path);
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    return absl::NotFoundError(absl::StrCat(
        "no Voikko dictionary directory ", path,
        " (Debian package voikko-fi; scripts/deps.sh installs it)"));
  }
  absl::StatusOr<SnowballStemmer> fallback =
      SnowballStemmer::Create(Language::kFinnish);
  if (!fallback.ok()) return fallback.status();
  const char* init_error = nullptr;
  VoikkoHandle* voikko = voikkoInit(&init_error, "fi", path.c_str());
  if (voikko == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "Voikko found no Finnish dictionary in ", path, ": ",
        init_error == nullptr ? "unknown error" : init_error,
        " (Debian package voikko-fi; scripts/deps.sh installs it)"));
  }
  return std::make_unique<VoikkoLemmatizer>(voikko, *std::move(fallback));
}

}  // namespace polku::text
