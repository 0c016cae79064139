// The factories of lemmatizer.h: Finnish (Voikko or Snowball) and Swedish
// (hunspell).
#include <hunspell/hunspell.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "lib/text/lemmatizer.h"
#include "lib/text/snowball_lemmatizer.h"
#include "lib/text/tokenizer.h"
#ifdef POLKU_TEXT_VOIKKO
#include "lib/text/voikko_lemmatizer.h"
#endif

namespace polku::text {

bool VoikkoBuilt() {
#ifdef POLKU_TEXT_VOIKKO
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<Lemmatizer>> NewFinnishLemmatizer(
    FinnishAnalyser analyser, absl::string_view voikko_path) {
  if (analyser == FinnishAnalyser::kDefault) {
    analyser = VoikkoBuilt() ? FinnishAnalyser::kVoikko
                             : FinnishAnalyser::kSnowball;
  }
  if (analyser == FinnishAnalyser::kSnowball) {
    return NewSnowballLemmatizer(Language::kFinnish, /*fallback=*/true);
  }
#ifdef POLKU_TEXT_VOIKKO
  return NewVoikkoLemmatizer(voikko_path);
#else
  (void)voikko_path;
  return absl::FailedPreconditionError(
      "this build has no Voikko (CMake option POLKU_VOIKKO=OFF): Finnish is "
      "stemmed by Snowball");
#endif
}

namespace {

class HunspellLemmatizer : public Lemmatizer {
 public:
  HunspellLemmatizer(Hunhandle* hunspell, SnowballStemmer fallback)
      : hunspell_(hunspell), fallback_(std::move(fallback)) {}
  ~HunspellLemmatizer() override { Hunspell_destroy(hunspell_); }

  WordAnalysis Lemmatize(absl::string_view word, WordRole) override {
    const std::string terminated(word);
    if (!Spelled(terminated)) {
      return WordAnalysis{.lemma = fallback_.Stem(word), .fallback = true};
    }
    WordAnalysis analysis;
    std::vector<Part> parts = Parts(terminated);
    if (!parts.empty()) {
      // sv_SE leaves a first part with a linking s out of the analysis
      // ("inloggningsproblemet": pa:problemet only): it is what precedes
      // the parts it names.
      size_t named = 0;
      for (const Part& part : parts) named += part.surface.size();
      if (named < terminated.size()) {
        std::string first = terminated.substr(0, terminated.size() - named);
        std::string stem = first;
        if (stem.size() > 1 && stem.back() == 's' &&
            Spelled(stem.substr(0, stem.size() - 1))) {
          stem.pop_back();
        }
        parts.insert(parts.begin(), Part{first, stem});
      }
    }
    if (parts.size() > 1) {
      // The lemma: the parts as written, the last one in its base form
      // (leveransförseningen → leveransförsening).
      std::string lemma = terminated.substr(
          0, terminated.size() - parts.back().surface.size());
      lemma += parts.back().stem;
      analysis.lemma = FoldWord(lemma);
      for (const Part& part : parts) {
        std::string folded = FoldWord(part.stem);
        if (!folded.empty()) analysis.compound_parts.push_back(std::move(folded));
      }
      return analysis;
    }
    char** list = nullptr;
    const int n = Hunspell_stem(hunspell_, &list, terminated.c_str());
    if (n > 0) analysis.lemma = FoldWord(list[0]);
    Hunspell_free_list(hunspell_, &list, n);
    if (analysis.lemma.empty()) analysis.lemma = terminated;
    return analysis;
  }

 private:
  struct Part {
    std::string surface;  // as in the word
    std::string stem;     // its base form
  };

  bool Spelled(const std::string& word) {
    return Hunspell_spell(hunspell_, word.c_str()) != 0;
  }

  // sv_SE's compounds analyse as " pa:leverans st:leverans pa:förseningen
  // st:försening": a part (pa:) and its stem (st:) when it inflects.
  std::vector<Part> Parts(const std::string& word) {
    std::vector<Part> parts;
    char** list = nullptr;
    const int n = Hunspell_analyze(hunspell_, &list, word.c_str());
    if (n > 0) {
      bool stemmed = true;
      for (absl::string_view field :
           absl::StrSplit(list[0], ' ', absl::SkipEmpty())) {
        if (field.substr(0, 3) == "pa:") {
          std::string surface(field.substr(3));
          parts.push_back(Part{surface, surface});
          stemmed = false;
        } else if (field.substr(0, 3) == "st:" && !parts.empty() &&
                   !stemmed) {
          parts.back().stem = std::string(field.substr(3));
          stemmed = true;
        }
      }
    }
    Hunspell_free_list(hunspell_, &list, n);
    // A part that is not where the analysis says: not a compound we read.
    size_t named = 0;
    for (const Part& part : parts) named += part.surface.size();
    if (named > word.size() ||
        (!parts.empty() && !absl::EndsWith(word, parts.back().surface))) {
      parts.clear();
    }
    return parts;
  }

 private:
  Hunhandle* const hunspell_;
  SnowballStemmer fallback_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Lemmatizer>> NewSwedishLemmatizer(
    absl::string_view dictionary) {
  const std::string aff = absl::StrCat(dictionary, ".aff");
  const std::string dic = absl::StrCat(dictionary, ".dic");
  for (const std::string& file : {aff, dic}) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) {
      return absl::NotFoundError(absl::StrCat(
          "no Swedish hunspell dictionary file ", file,
          " (Debian package hunspell-sv-se; scripts/deps.sh installs it)"));
    }
  }
  absl::StatusOr<SnowballStemmer> fallback =
      SnowballStemmer::Create(Language::kSwedish);
  if (!fallback.ok()) return fallback.status();
  Hunhandle* hunspell = Hunspell_create(aff.c_str(), dic.c_str());
  if (hunspell == nullptr) {
    return absl::InternalError(
        absl::StrCat("hunspell could not load ", aff, " and ", dic));
  }
  return std::make_unique<HunspellLemmatizer>(hunspell, *std::move(fallback));
}

}  // namespace polku::text
