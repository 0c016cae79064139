#include "lib/text/snowball_lemmatizer.h"

#include <libstemmer.h>

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polku::text {

absl::StatusOr<SnowballStemmer> SnowballStemmer::Create(Language language) {
  const char* algorithm = nullptr;
  switch (language) {
    case Language::kFinnish:
      algorithm = "finnish";
      break;
    case Language::kSwedish:
      algorithm = "swedish";
      break;
    case Language::kEnglish:
      algorithm = "english";
      break;
    case Language::kUnknown:
      return absl::InvalidArgumentError("Snowball needs a language");
  }
  sb_stemmer* stemmer = sb_stemmer_new(algorithm, "UTF_8");
  if (stemmer == nullptr) {
    return absl::InternalError(
        absl::StrCat("libstemmer has no UTF-8 stemmer \"", algorithm, "\""));
  }
  return SnowballStemmer(stemmer);
}

SnowballStemmer::SnowballStemmer(SnowballStemmer&& other) noexcept
    : stemmer_(std::exchange(other.stemmer_, nullptr)) {}

SnowballStemmer& SnowballStemmer::operator=(SnowballStemmer&& other) noexcept {
  std::swap(stemmer_, other.stemmer_);
  return *this;
}

SnowballStemmer::~SnowballStemmer() {
  if (stemmer_ != nullptr) sb_stemmer_delete(stemmer_);
}

std::string SnowballStemmer::Stem(absl::string_view word) {
  const sb_symbol* stem =
      sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(word.data()),
                      static_cast<int>(word.size()));
  if (stem == nullptr) return std::string(word);  // out of memory
  return std::string(reinterpret_cast<const char*>(stem),
                     static_cast<size_t>(sb_stemmer_length(stemmer_)));
}

namespace {

class SnowballLemmatizer : public Lemmatizer {
 public:
  SnowballLemmatizer(SnowballStemmer stemmer, bool fallback)
      : stemmer_(std::move(stemmer)), fallback_(fallback) {}

  WordAnalysis Lemmatize(absl::string_view word, WordRole) override {
    return WordAnalysis{.lemma = stemmer_.Stem(word), .fallback = fallback_};
  }

 private:
  SnowballStemmer stemmer_;
  const bool fallback_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Lemmatizer>> NewSnowballLemmatizer(
    Language language, bool fallback) {
  absl::StatusOr<SnowballStemmer> stemmer = SnowballStemmer::Create(language);
  if (!stemmer.ok()) return stemmer.status();
  return std::make_unique<SnowballLemmatizer>(*std::move(stemmer), fallback);
}

}  // namespace polku::text
