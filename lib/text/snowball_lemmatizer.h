// Snowball's stemmers (libstemmer) as a Lemmatizer, and as the fallback the
// dictionary-based lemmatisers use for words they do not know.
#ifndef POLKU_LIB_TEXT_SNOWBALL_LEMMATIZER_H_
#define POLKU_LIB_TEXT_SNOWBALL_LEMMATIZER_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "lib/text/language.h"
#include "lib/text/lemmatizer.h"

struct sb_stemmer;

namespace polku::text {

// One stemmer handle; not thread-safe.
class SnowballStemmer {
 public:
  static absl::StatusOr<SnowballStemmer> Create(Language language);
  SnowballStemmer(SnowballStemmer&& other) noexcept;
  SnowballStemmer& operator=(SnowballStemmer&& other) noexcept;
  ~SnowballStemmer();

  std::string Stem(absl::string_view word);

 private:
  explicit SnowballStemmer(sb_stemmer* stemmer) : stemmer_(stemmer) {}
  sb_stemmer* stemmer_;
};

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_SNOWBALL_LEMMATIZER_H_
