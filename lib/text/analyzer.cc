#include "lib/text/analyzer.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/text/stop_words.h"
#include "lib/text/tokenizer.h"

namespace polku::text {
namespace {

// How far a negation reaches for the word it negates.
constexpr size_t kNegationReach = 3;

int Index(Language language) {
  switch (language) {
    case Language::kFinnish:
      return 0;
    case Language::kSwedish:
      return 1;
    case Language::kEnglish:
      return 2;
    case Language::kUnknown:
      break;
  }
  return -1;
}

absl::string_view NegationPrefix(Language language) {
  switch (language) {
    case Language::kFinnish:
      return "ei_";
    case Language::kSwedish:
      return "inte_";
    case Language::kEnglish:
      return "not_";
    case Language::kUnknown:
      break;
  }
  return "";
}

}  // namespace

// One thread's handles: not thread-safe, used by one call at a time.
class Analyzer::Worker {
 public:
  Worker(Tokenizer tokenizer, LanguageDetector detector,
         std::array<std::unique_ptr<Lemmatizer>, 3> lemmatizers,
         size_t cached_words)
      : tokenizer_(std::move(tokenizer)),
        detector_(std::move(detector)),
        lemmatizers_(std::move(lemmatizers)),
        cached_words_(cached_words) {}

  CommentAnalysis Analyze(absl::string_view comment, Language language) {
    CommentAnalysis out;
    std::vector<Token> tokens = tokenizer_.Tokenize(comment);
    if (language == Language::kUnknown) {
      language = detector_.Detect(comment, tokens);
      out.detected = language != Language::kUnknown;
    }
    out.language = language;
    if (language == Language::kUnknown) {
      for (Token& token : tokens) {
        if (IsStopWord(Language::kUnknown, token.folded)) continue;
        out.terms.push_back(Term{.lemma = std::move(token.folded),
                                 .begin = token.begin,
                                 .end = token.end,
                                 .fallback = true});
      }
      return out;
    }

    const size_t n = tokens.size();
    std::vector<bool> stop(n), negation(n);
    for (size_t i = 0; i < n; ++i) {
      negation[i] = IsNegation(language, tokens[i].folded);
      stop[i] = negation[i] || IsStopWord(language, tokens[i].folded);
    }
    // negator[j]: the negation word that negates token j, or n.
    std::vector<size_t> negator(n, n);
    for (size_t i = 0; i < n; ++i) {
      if (!negation[i]) continue;
      size_t target = n;
      if (language == Language::kSwedish && i > 0 && !stop[i - 1] &&
          tokens[i - 1].clause == tokens[i].clause && negator[i - 1] == n) {
        target = i - 1;  // "fungerar inte"
      }
      // The first word on that is not a stop word; but where the analyser
      // knows verbs (Voikko), the first verb among them.
      size_t verb = n;
      for (size_t k = i + 1; k < n && k <= i + kNegationReach; ++k) {
        if (tokens[k].clause != tokens[i].clause || negation[k]) break;
        if (stop[k]) continue;
        if (target == n) target = k;
        if (Lemmatize(language, tokens[k].folded, WordRole::kNegated).verb) {
          verb = k;
          break;
        }
      }
      if (verb != n) target = verb;
      if (target != n && negator[target] == n) negator[target] = i;
    }

    const bool lemma_stops = language != Language::kEnglish;
    for (size_t i = 0; i < n; ++i) {
      const Token& token = tokens[i];
      if (negator[i] != n) {
        const Token& neg = tokens[negator[i]];
        const WordAnalysis& a =
            Lemmatize(language, token.folded, WordRole::kNegated);
        out.terms.push_back(
            Term{.lemma = absl::StrCat(NegationPrefix(language), a.lemma),
                 .begin = std::min(token.begin, neg.begin),
                 .end = std::max(token.end, neg.end),
                 .fallback = a.fallback,
                 .negated = true});
        continue;
      }
      if (stop[i]) continue;
      const WordAnalysis& a = Lemmatize(language, token.folded, WordRole::kAny);
      if (lemma_stops && !a.fallback && IsStopWord(language, a.lemma)) continue;
      out.terms.push_back(Term{.lemma = a.lemma,
                               .begin = token.begin,
                               .end = token.end,
                               .fallback = a.fallback});
      for (const std::string& part : a.compound_parts) {
        if (IsStopWord(language, part)) continue;
        out.terms.push_back(Term{.lemma = part,
                                 .begin = token.begin,
                                 .end = token.end,
                                 .fallback = a.fallback,
                                 .compound_part = true});
      }
    }
    return out;
  }

 private:
  const WordAnalysis& Lemmatize(Language language, const std::string& word,
                                WordRole role) {
    const int l = Index(language);
    auto& cache = cache_[l][role == WordRole::kNegated ? 1 : 0];
    auto it = cache.find(word);
    if (it != cache.end()) return it->second;
    if (cache.size() >= cached_words_) cache.clear();
    return cache.emplace(word, lemmatizers_[l]->Lemmatize(word, role))
        .first->second;
  }

  Tokenizer tokenizer_;
  LanguageDetector detector_;
  std::array<std::unique_ptr<Lemmatizer>, 3> lemmatizers_;  // fi, sv, en
  const size_t cached_words_;
  // [language][role]: the analyses of words seen, by folded word.
  std::array<std::array<absl::flat_hash_map<std::string, WordAnalysis>, 2>, 3>
      cache_;
};

absl::StatusOr<std::unique_ptr<Analyzer>> Analyzer::Create(
    AnalyzerOptions options) {
  std::unique_ptr<Analyzer> analyzer(new Analyzer(std::move(options)));
  absl::StatusOr<std::unique_ptr<Worker>> first = analyzer->NewWorker();
  if (!first.ok()) return first.status();
  {
    absl::MutexLock lock(&analyzer->mu_);
    ++analyzer->workers_;
  }
  analyzer->Return(*std::move(first));
  return analyzer;
}

Analyzer::Analyzer(AnalyzerOptions options) : options_(std::move(options)) {}
Analyzer::~Analyzer() = default;

absl::StatusOr<std::unique_ptr<Analyzer::Worker>> Analyzer::NewWorker() const {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create();
  if (!tokenizer.ok()) return tokenizer.status();
  absl::StatusOr<LanguageDetector> detector =
      LanguageDetector::Create(options_.fingerprint_dir);
  if (!detector.ok()) return detector.status();
  absl::StatusOr<std::unique_ptr<Lemmatizer>> finnish =
      NewFinnishLemmatizer(options_.finnish, options_.voikko_path);
  if (!finnish.ok()) return finnish.status();
  absl::StatusOr<std::unique_ptr<Lemmatizer>> swedish =
      NewSwedishLemmatizer(options_.swedish_dictionary);
  if (!swedish.ok()) return swedish.status();
  absl::StatusOr<std::unique_ptr<Lemmatizer>> english =
      NewSnowballLemmatizer(Language::kEnglish, /*fallback=*/false);
  if (!english.ok()) return english.status();
  return std::make_unique<Worker>(
      *std::move(tokenizer), *std::move(detector),
      std::array<std::unique_ptr<Lemmatizer>, 3>{
          *std::move(finnish), *std::move(swedish), *std::move(english)},
      std::max<size_t>(options_.cached_words, 1));
}

absl::StatusOr<std::unique_ptr<Analyzer::Worker>> Analyzer::Take() const {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Worker> worker = std::move(idle_.back());
      idle_.pop_back();
      return worker;
    }
  }
  // Loading dictionaries takes a while: not under the lock.
  absl::StatusOr<std::unique_ptr<Worker>> worker = NewWorker();
  if (worker.ok()) {
    absl::MutexLock lock(&mu_);
    ++workers_;
  }
  return worker;
}

void Analyzer::Return(std::unique_ptr<Worker> worker) const {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(worker));
}

size_t Analyzer::workers() const {
  absl::MutexLock lock(&mu_);
  return workers_;
}

absl::StatusOr<CommentAnalysis> Analyzer::Analyze(
    absl::string_view comment, absl::string_view language) const {
  absl::StatusOr<Language> parsed = ParseLanguage(language);
  if (!parsed.ok()) return parsed.status();
  return Analyze(comment, *parsed);
}

absl::StatusOr<CommentAnalysis> Analyzer::Analyze(absl::string_view comment,
                                                  Language language) const {
  absl::StatusOr<std::unique_ptr<Worker>> worker = Take();
  if (!worker.ok()) return worker.status();
  CommentAnalysis analysis = (*worker)->Analyze(comment, language);
  Return(*std::move(worker));
  return analysis;
}

}  // namespace polku::text
