// Tells Finnish, Swedish and English apart in a comment whose event did not
// say its language. Two signals (docs/themes.md, "Language detection"):
//
// * libexttextcat's character n-gram fingerprints of fi, sv and en
//   (Debian's libexttextcat-data, /usr/share/libexttextcat/{fi,sv,en}.lm),
//   compared with the comment's own n-grams (out-of-place distance);
// * a vote of the comment's stop and negation words (stop_words.h).
//
// The stop-word vote decides when it is clear (a lead of two words); else
// the fingerprints, when their best language is clearly ahead; else a vote
// lead of one word; else kUnknown. The accuracy on the labelled sentences of
// testdata/languages.tsv is measured in language_detector_test.cc.
//
//   absl::StatusOr<text::LanguageDetector> detector =
//       text::LanguageDetector::Create();
//   text::Language l = detector->Detect(comment, tokenizer.Tokenize(comment));
//
// Not thread-safe (libexttextcat's fingerprint handles): one per thread.
#ifndef POLKU_LIB_TEXT_LANGUAGE_DETECTOR_H_
#define POLKU_LIB_TEXT_LANGUAGE_DETECTOR_H_

#include <array>
#include <memory>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "lib/text/language.h"
#include "lib/text/tokenizer.h"

namespace polku::text {

inline constexpr absl::string_view kDefaultFingerprintDir =
    "/usr/share/libexttextcat";

class LanguageDetector {
 public:
  // Reads {fi,sv,en}.lm from `fingerprint_dir`; NOT_FOUND names a missing
  // or unreadable file.
  static absl::StatusOr<LanguageDetector> Create(
      absl::string_view fingerprint_dir = kDefaultFingerprintDir);

  LanguageDetector(LanguageDetector&&) noexcept;
  LanguageDetector& operator=(LanguageDetector&&) noexcept;
  ~LanguageDetector();

  // The signals, indexed fi, sv, en (tests measure each on its own).
  struct Signals {
    // Out-of-place distance to each fingerprint, lower is closer; all 0
    // when the comment is too short for a fingerprint.
    std::array<long, 3> distance{};
    std::array<int, 3> stop_words{};  // the comment's words in each list
  };
  Signals Measure(absl::string_view comment, const std::vector<Token>& tokens);

  // `tokens` are the comment's (Tokenizer). kUnknown when unsure.
  Language Detect(absl::string_view comment, const std::vector<Token>& tokens);

  // The decision rule of Detect over measured signals.
  static Language Decide(const Signals& signals);
  // The fingerprints' answer alone (kUnknown if they have none).
  static Language ByFingerprint(const Signals& signals);
  // The stop-word vote alone (kUnknown on a tie or no vote).
  static Language ByStopWords(const Signals& signals);

 private:
  struct Fingerprints;
  explicit LanguageDetector(std::unique_ptr<Fingerprints> fingerprints);
  std::unique_ptr<Fingerprints> fingerprints_;
};

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_LANGUAGE_DETECTOR_H_
