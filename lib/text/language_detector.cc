#include "lib/text/language_detector.h"

#include <libexttextcat/fingerprint.h>
#include <libexttextcat/textcat_properties.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/text/stop_words.h"

namespace polku::text {
namespace {

constexpr std::array<Language, 3> kLanguages = {
    Language::kFinnish, Language::kSwedish, Language::kEnglish};
// libexttextcat's own limits (constants.h): n-grams per fingerprint.
constexpr int kMaxNgrams = 400;
// The fingerprints decide when the second-best language is this much
// farther than the best (textcat's THRESHOLDVALUE is 1.03).
constexpr double kFingerprintLead = 1.03;

// The index of the unique maximum of `v`, or -1.
template <typename T>
int UniqueMax(const std::array<T, 3>& v) {
  int best = 0;
  for (int i = 1; i < 3; ++i) {
    if (v[i] > v[best]) best = i;
  }
  for (int i = 0; i < 3; ++i) {
    if (i != best && v[i] == v[best]) return -1;
  }
  return best;
}

}  // namespace

struct LanguageDetector::Fingerprints {
  std::array<void*, 3> languages{};
  ~Fingerprints() {
    for (void* fp : languages) {
      if (fp != nullptr) fp_Done(fp);
    }
  }
};

absl::StatusOr<LanguageDetector> LanguageDetector::Create(
    absl::string_view fingerprint_dir) {
  auto fingerprints = std::make_unique<Fingerprints>();
  for (int i = 0; i < 3; ++i) {
    const std::string code(LanguageCode(kLanguages[i]));
    const std::string path =
        absl::StrCat(fingerprint_dir, "/", code, ".lm");
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
      return absl::NotFoundError(absl::StrCat(
          "no language fingerprint ", path,
          " (Debian package libexttextcat-data; scripts/deps.sh installs it)"));
    }
    void* fp = fp_Init(code.c_str());
    if (fp == nullptr) return absl::ResourceExhaustedError("fp_Init failed");
    fingerprints->languages[i] = fp;
    fp_SetProperty(fp, TCPROP_UTF8AWARE, TC_TRUE);
    if (fp_Read(fp, path.c_str(), kMaxNgrams) == 0) {
      return absl::NotFoundError(
          absl::StrCat("libexttextcat could not read the fingerprint ", path));
    }
  }
  return LanguageDetector(std::move(fingerprints));
}

LanguageDetector::LanguageDetector(std::unique_ptr<Fingerprints> fingerprints)
    : fingerprints_(std::move(fingerprints)) {}
LanguageDetector::LanguageDetector(LanguageDetector&&) noexcept = default;
LanguageDetector& LanguageDetector::operator=(LanguageDetector&&) noexcept =
    default;
LanguageDetector::~LanguageDetector() = default;

LanguageDetector::Signals LanguageDetector::Measure(
    absl::string_view comment, const std::vector<Token>& tokens) {
  Signals signals;
  for (const Token& token : tokens) {
    for (int i = 0; i < 3; ++i) {
      if (IsStopWord(kLanguages[i], token.folded) ||
          IsNegation(kLanguages[i], token.folded)) {
        ++signals.stop_words[i];
      }
    }
  }
  void* unknown = fp_Init(nullptr);
  if (unknown == nullptr) return signals;
  fp_SetProperty(unknown, TCPROP_UTF8AWARE, TC_TRUE);
  // A few hundred bytes tell the languages apart (libexttextcat's note);
  // the cut is harmless inside a UTF-8 sequence (one n-gram less).
  const size_t size = std::min<size_t>(comment.size(), 1024);
  if (fp_Create(unknown, comment.data(), static_cast<uint4>(size),
                kMaxNgrams) != 0) {
    for (int i = 0; i < 3; ++i) {
      signals.distance[i] =
          fp_Compare(fingerprints_->languages[i], unknown, INT_MAX);
    }
  }
  fp_Done(unknown);
  return signals;
}

Language LanguageDetector::ByFingerprint(const Signals& signals) {
  const std::array<long, 3>& d = signals.distance;
  if (d[0] == 0 && d[1] == 0 && d[2] == 0) return Language::kUnknown;
  std::array<int, 3> order = {0, 1, 2};
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return d[a] < d[b] || (d[a] == d[b] && a < b); });
  if (static_cast<double>(d[order[1]]) <
      kFingerprintLead * static_cast<double>(d[order[0]])) {
    return Language::kUnknown;
  }
  return kLanguages[order[0]];
}

Language LanguageDetector::ByStopWords(const Signals& signals) {
  const int best = UniqueMax(signals.stop_words);
  if (best < 0 || signals.stop_words[best] == 0) return Language::kUnknown;
  return kLanguages[best];
}

Language LanguageDetector::Decide(const Signals& signals) {
  const std::array<int, 3>& v = signals.stop_words;
  const int best = UniqueMax(v);
  if (best >= 0) {
    int second = 0;
    for (int i = 0; i < 3; ++i) {
      if (i != best) second = std::max(second, v[i]);
    }
    if (v[best] - second >= 2) return kLanguages[best];
  }
  const Language fingerprint = ByFingerprint(signals);
  if (fingerprint != Language::kUnknown) return fingerprint;
  return ByStopWords(signals);
}

Language LanguageDetector::Detect(absl::string_view comment,
                                  const std::vector<Token>& tokens) {
  return Decide(Measure(comment, tokens));
}

}  // namespace polku::text
