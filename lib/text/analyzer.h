// Text analysis of a feedback comment: its language and its terms, the
// words that themes are made of (docs/themes.md, "Text analysis").
//
//   absl::StatusOr<std::unique_ptr<text::Analyzer>> analyzer =
//       text::Analyzer::Create({});
//   absl::StatusOr<text::CommentAnalysis> a =
//       (*analyzer)->Analyze("Toimitusaika oli pitkä eikä sovellus toimi.", "");
//   // a->language == kFinnish, detected; terms: toimitusaika, toimitus
//   // (part), aika (part), pitkä, sovellus, ei_toimia (negated)
//
// A term is a lemma, case-folded and NFKC-normalised:
// * Finnish by Voikko (base forms, compound parts), Swedish by hunspell
//   (stems, compound parts), English by Snowball (stems); a word the
//   dictionary does not know is stemmed by Snowball and marked `fallback`.
// * A compound gives its whole lemma and, after it, one term per part
//   (`compound_part`), each spanning the whole word.
// * Stop words are dropped (stop_words.h).
// * A negation word is folded into the word it negates, as one term
//   "<negation>_<lemma>" with a fixed negation per language: "ei_" (fi),
//   "inte_" (sv), "not_" (en). "ei toimi", "en saanut" → ei_toimia,
//   ei_saada; "fungerar inte", "har inte fått" → inte_fungera, inte_få;
//   "doesn't work", "does not work", "never worked" → not_work. The negated
//   word is the next word that is not a stop word, at most three words on
//   and in the same clause, or among those the first that Voikko reads as
//   a verb ("eikä myyjä vastannut" → myyjä, ei_vastata); in Swedish the
//   word just before the negation comes first ("fungerar inte"). Its span runs from the first of the two
//   words to the end of the last; a negated compound gives no parts.
//   A negation with nothing to negate is dropped.
// * A comment of unknown language (not said, not detected) gives its folded
//   words, less every language's stop words, all `fallback`.
//
// Thread-safe: Analyze may be called from many threads at once. Voikko,
// hunspell, Snowball, ICU's break iterator and libexttextcat's fingerprints
// are not, so the Analyzer keeps a pool of workers, each with its own
// handles and word cache; a call borrows an idle worker (or makes one) and
// returns it. There are at most as many workers as concurrent callers.
// The output depends only on the comment and language: byte-identical
// whichever worker, cache state or thread.
#ifndef POLKU_LIB_TEXT_ANALYZER_H_
#define POLKU_LIB_TEXT_ANALYZER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "lib/text/language.h"
#include "lib/text/language_detector.h"
#include "lib/text/lemmatizer.h"

namespace polku::text {

struct Term {
  std::string lemma;  // see the header comment for its form
  size_t begin = 0;   // byte span in the comment: comment.substr(begin,
  size_t end = 0;     // end - begin) is the word (or negation phrase)
  bool fallback = false;       // unknown to the dictionary: a Snowball stem
  bool compound_part = false;  // a part of the compound term before it
  bool negated = false;        // lemma is "<negation>_<lemma>"
};

struct CommentAnalysis {
  Language language = Language::kUnknown;
  bool detected = false;  // the language was detected, not given
  std::vector<Term> terms;
};

struct AnalyzerOptions {
  FinnishAnalyser finnish = FinnishAnalyser::kDefault;
  std::string voikko_path = std::string(kDefaultVoikkoPath);
  std::string swedish_dictionary = std::string(kDefaultSwedishDictionary);
  std::string fingerprint_dir = std::string(kDefaultFingerprintDir);
  // Words whose analysis each worker remembers (the cache is emptied when
  // full): comments repeat their words, and Voikko and hunspell are slow.
  size_t cached_words = 1 << 16;
};

class Analyzer {
 public:
  // Loads every dictionary once, so that a missing one fails here (its
  // error names the path).
  static absl::StatusOr<std::unique_ptr<Analyzer>> Create(
      AnalyzerOptions options);

  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;
  ~Analyzer();

  // `language` is the event's language tag, "" to detect it
  // (ParseLanguage; INVALID_ARGUMENT for another language).
  absl::StatusOr<CommentAnalysis> Analyze(absl::string_view comment,
                                          absl::string_view language) const;
  // The same with a language already parsed (kUnknown: detect). Fails only
  // when a new worker cannot load a dictionary that Create could.
  absl::StatusOr<CommentAnalysis> Analyze(absl::string_view comment,
                                          Language language) const;

  // Workers made so far (tests).
  size_t workers() const;

 private:
  class Worker;
  explicit Analyzer(AnalyzerOptions options);
  absl::StatusOr<std::unique_ptr<Worker>> NewWorker() const;
  absl::StatusOr<std::unique_ptr<Worker>> Take() const;
  void Return(std::unique_ptr<Worker> worker) const;

  const AnalyzerOptions options_;
  mutable absl::Mutex mu_;
  mutable std::vector<std::unique_ptr<Worker>> idle_ ABSL_GUARDED_BY(mu_);
  mutable size_t workers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_ANALYZER_H_
