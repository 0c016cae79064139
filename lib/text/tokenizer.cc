#include "lib/text/tokenizer.h"

#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace polku::text {

struct Tokenizer::Icu {
  std::unique_ptr<icu::BreakIterator> words;
  // The comment being tokenised, as UTF-8 text; kept from one comment to
  // the next so that ICU reuses its buffers instead of allocating them for
  // each comment.
  UText text = UTEXT_INITIALIZER;

  Icu() = default;
  Icu(const Icu&) = delete;
  Icu& operator=(const Icu&) = delete;
  ~Icu() { utext_close(&text); }
};

namespace {

const icu::Normalizer2& NfkcCasefold() {
  UErrorCode status = U_ZERO_ERROR;
  // ICU owns the instance; it is immutable and thread-safe.
  const icu::Normalizer2* normalizer =
      icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status) || normalizer == nullptr) {
    // ICU's data is compiled into libicudata: this "can't happen".
    std::abort();
  }
  return *normalizer;
}

// Whether the bytes between two words end a clause.
bool BreaksClause(absl::string_view gap) {
  for (char c : gap) {
    switch (c) {
      case '.': case ',': case ';': case ':': case '!': case '?':
      case '(': case ')': case '\n': case '\r':
        return true;
      default:
        break;
    }
  }
  // Dashes and the ellipsis: — – …
  return gap.find("\u2014") != gap.npos || gap.find("\u2013") != gap.npos ||
         gap.find("\u2026") != gap.npos;
}

}  // namespace

std::string FoldWord(absl::string_view word) {
  // ASCII is its own NFKC form, and case folding maps only A–Z in it: the
  // same answer as ICU's, without converting to UTF-16 and back (most words
  // of English comments, many of Finnish and Swedish ones).
  if (std::all_of(word.begin(), word.end(),
                  [](char c) { return absl::ascii_isascii(c); })) {
    return absl::AsciiStrToLower(word);
  }
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString folded = NfkcCasefold().normalize(
      icu::UnicodeString::fromUTF8(
          icu::StringPiece(word.data(), static_cast<int32_t>(word.size()))),
      status);
  std::string out;
  if (U_FAILURE(status)) return out;
  folded.toUTF8String(out);
  if (out.find("\u2019") != out.npos) {
    out = absl::StrReplaceAll(out, {{"\u2019", "'"}});
  }
  return out;
}

absl::StatusOr<Tokenizer> Tokenizer::Create() {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> words(
      icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status) || words == nullptr) {
    return absl::InternalError(absl::StrCat(
        "ICU could not create a word break iterator: ", u_errorName(status)));
  }
  auto icu = std::make_unique<Icu>();
  icu->words = std::move(words);
  return Tokenizer(std::move(icu));
}

Tokenizer::Tokenizer(std::unique_ptr<Icu> icu) : icu_(std::move(icu)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<Token> Tokenizer::Tokenize(absl::string_view comment) {
  std::vector<Token> tokens;
  UErrorCode status = U_ZERO_ERROR;
  // A UTF-8 UText: the iterator's indexes are byte offsets in `comment`.
  UText* text = utext_openUTF8(&icu_->text, comment.data(),
                               static_cast<int64_t>(comment.size()), &status);
  if (U_FAILURE(status)) return tokens;
  icu::BreakIterator& words = *icu_->words;
  words.setText(text, status);
  if (U_FAILURE(status)) return tokens;
  int clause = 0;
  size_t previous_end = 0;
  int32_t begin = words.first();
  for (int32_t end = words.next(); end != icu::BreakIterator::DONE;
       begin = end, end = words.next()) {
    const int32_t kind = words.getRuleStatus();
    if (kind < UBRK_WORD_LETTER || kind >= UBRK_WORD_IDEO_LIMIT) continue;
    const size_t b = static_cast<size_t>(begin);
    const size_t e = static_cast<size_t>(end);
    if (BreaksClause(comment.substr(previous_end, b - previous_end))) ++clause;
    previous_end = e;
    std::string folded = FoldWord(comment.substr(b, e - b));
    if (folded.empty()) continue;
    tokens.push_back(
        Token{.begin = b, .end = e, .folded = std::move(folded), .clause = clause});
  }
  // The iterator keeps a shallow clone of `text`: detached, so that it never
  // refers to the comment after this returns.
  words.setText(icu::UnicodeString());
  return tokens;
}

}  // namespace polku::text
