#include "lib/text/language_detector.h"

#include <cstdio>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/text/test_data.h"

namespace polku::text {
namespace {

// Detection accuracy on testdata/languages.tsv: 65 comments of 5+ words per
// language. The issue asks for at least 95 %. Each signal's own accuracy
// is printed beside the combination's, to show why both are used.
TEST(LanguageDetectorTest, AccuracyOnLabelledShortComments) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create();
  ASSERT_TRUE(tokenizer.ok());
  absl::StatusOr<LanguageDetector> detector = LanguageDetector::Create();
  ASSERT_TRUE(detector.ok()) << detector.status();
  std::map<std::string, int> total, combined, fingerprint, stop_words;
  int all = 0, all_right = 0, unknown = 0;
  for (const auto& row : ReadTestData("languages.tsv")) {
    ASSERT_EQ(row.size(), 2u);
    const std::string& label = row[0];
    const std::vector<Token> tokens = tokenizer->Tokenize(row[1]);
    ASSERT_GE(tokens.size(), 5u) << row[1];
    const LanguageDetector::Signals s = detector->Measure(row[1], tokens);
    const Language decided = LanguageDetector::Decide(s);
    EXPECT_EQ(decided, detector->Detect(row[1], tokens));
    ++total[label];
    ++all;
    if (LanguageCode(decided) == label) {
      ++combined[label];
      ++all_right;
    } else {
      if (decided == Language::kUnknown) ++unknown;
      std::printf("  %s detected as \"%s\": %s\n", label.c_str(),
                  std::string(LanguageCode(decided)).c_str(), row[1].c_str());
    }
    if (LanguageCode(LanguageDetector::ByFingerprint(s)) == label) {
      ++fingerprint[label];
    }
    if (LanguageCode(LanguageDetector::ByStopWords(s)) == label) {
      ++stop_words[label];
    }
  }
  for (const auto& [label, n] : total) {
    std::printf("%s: %d comments, combined %d, fingerprints alone %d, stop "
                "words alone %d\n",
                label.c_str(), n, combined[label], fingerprint[label],
                stop_words[label]);
    EXPECT_GE(n, 60);
    EXPECT_GE(combined[label], n * 95 / 100) << label;
  }
  const double accuracy = static_cast<double>(all_right) / all;
  std::printf("language detection: %.1f %% of %d right, %d unknown\n",
              100 * accuracy, all, unknown);
  EXPECT_GE(accuracy, 0.95);
}

TEST(LanguageDetectorTest, UnsureIsUnknown) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create();
  absl::StatusOr<LanguageDetector> detector = LanguageDetector::Create();
  ASSERT_TRUE(tokenizer.ok() && detector.ok());
  for (const char* comment : {"", "!!!", "😡😡", "12345"}) {
    EXPECT_EQ(detector->Detect(comment, tokenizer->Tokenize(comment)),
              Language::kUnknown)
        << comment;
  }
}

TEST(LanguageDetectorTest, MissingFingerprintNamesThePath) {
  absl::StatusOr<LanguageDetector> detector =
      LanguageDetector::Create("/no/such/dir");
  ASSERT_FALSE(detector.ok());
  EXPECT_EQ(detector.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(detector.status().message(),
              testing::HasSubstr("/no/such/dir/fi.lm"));
}

}  // namespace
}  // namespace polku::text
