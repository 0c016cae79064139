// Splits a comment into words (Unicode word boundaries, UAX #29, by ICU) and
// folds each one: NFKC normalisation with full case folding, so "Äänes",
// "ÄÄNES" and a decomposed "A\u0308a\u0308nes" are one word, "ﬁ" is "fi", and
// a typographic apostrophe (’) is an ASCII one ("doesn’t" = "doesn't").
//
//   absl::StatusOr<text::Tokenizer> tokenizer = text::Tokenizer::Create();
//   for (const text::Token& t : tokenizer->Tokenize(comment)) {
//     comment.substr(t.begin, t.end - t.begin);  // the word as written
//     t.folded;                                  // its folded form
//   }
//
// Only words with letters are tokens: numbers, punctuation, emoji and spaces
// are not. Invalid UTF-8 is read as U+FFFD and never makes a token.
// A Tokenizer keeps an ICU break iterator: use one per thread.
#ifndef POLKU_LIB_TEXT_TOKENIZER_H_
#define POLKU_LIB_TEXT_TOKENIZER_H_

#include <cstddef>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace polku::text {

struct Token {
  size_t begin = 0;  // byte offset of the word in the comment
  size_t end = 0;    // one past its last byte
  std::string folded;
  // Counts the clause breaks (. , ; : ! ? ( ) line breaks, …) before the
  // word: a negation reaches only words of its own clause.
  int clause = 0;
};

class Tokenizer {
 public:
  static absl::StatusOr<Tokenizer> Create();

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<Token> Tokenize(absl::string_view comment);

 private:
  struct Icu;  // keeps ICU's headers out of this one
  explicit Tokenizer(std::unique_ptr<Icu> icu);

  std::unique_ptr<Icu> icu_;
};

// One word folded as Tokenize folds it (NFKC with case folding, ’ as ').
std::string FoldWord(absl::string_view word);

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_TOKENIZER_H_
