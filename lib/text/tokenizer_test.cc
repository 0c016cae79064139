#include "lib/text/tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::text {
namespace {

std::vector<std::string> Folded(const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const Token& t : tokens) out.push_back(t.folded);
  return out;
}

TEST(TokenizerTest, SpansAreTheWordsAsWrittenIncludingMultiByteLetters) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string comment =
      "ÄÄNESTYS: Kassajonossa 20 min 😡 — leveransförseningen; doesn’t work!";
  const std::vector<Token> tokens = tokenizer->Tokenize(comment);
  EXPECT_THAT(Folded(tokens),
              testing::ElementsAre("äänestys", "kassajonossa", "min",
                                   "leveransförseningen", "doesn't", "work"));
  const std::vector<std::string> written = {
      "ÄÄNESTYS", "Kassajonossa", "min", "leveransförseningen", "doesn’t",
      "work"};
  ASSERT_EQ(tokens.size(), written.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(comment.substr(tokens[i].begin, tokens[i].end - tokens[i].begin),
              written[i]);
  }
  // ':' after a word, the dash and ';' each start a clause.
  EXPECT_EQ(tokens[0].clause, 0);
  EXPECT_EQ(tokens[1].clause, 1);
  EXPECT_EQ(tokens[3].clause, 2);
  EXPECT_EQ(tokens[4].clause, 3);
  EXPECT_EQ(tokens[5].clause, 3);
}

TEST(TokenizerTest, FoldsDecomposedAndCompatibilityForms) {
  // "Päätös" with a combining diaeresis, and the "ﬁ" ligature.
  EXPECT_EQ(FoldWord("Pa\u0308a\u0308to\u0308s"), "päätös");
  EXPECT_EQ(FoldWord("\uFB01ksu"), "fiksu");
  EXPECT_EQ(FoldWord("STRASSE"), "strasse");
  EXPECT_EQ(FoldWord("Straße"), "strasse");
}

// FoldWord folds ASCII words itself: the same as ICU's NFKC_Casefold for
// every printable ASCII character, alone and inside a word.
TEST(TokenizerTest, AsciiFoldsAsIcuFoldsIt) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* icu_fold =
      icu::Normalizer2::getNFKCCasefoldInstance(status);
  ASSERT_TRUE(U_SUCCESS(status));
  const auto by_icu = [&](const std::string& word) {
    UErrorCode s = U_ZERO_ERROR;
    std::string out;
    icu_fold->normalize(icu::UnicodeString::fromUTF8(word), s).toUTF8String(out);
    EXPECT_TRUE(U_SUCCESS(s));
    return out;
  };
  for (char c = ' '; c <= '~'; ++c) {
    const std::string word = std::string("Ab") + c + "Z9";
    EXPECT_EQ(FoldWord(std::string(1, c)), by_icu(std::string(1, c))) << c;
    EXPECT_EQ(FoldWord(word), by_icu(word)) << word;
  }
  // One character beyond ASCII takes ICU's path for the whole word.
  EXPECT_EQ(FoldWord("LEVERANS\u00C4"), "leveransä");
}

TEST(TokenizerTest, InvalidUtf8MakesNoTokensAndNoOutOfRangeSpans) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Create();
  ASSERT_TRUE(tokenizer.ok());
  const std::string comment = "hyvä \xff\xfe palvelu \xc3";
  for (const Token& t : tokenizer->Tokenize(comment)) {
    EXPECT_LE(t.end, comment.size());
    EXPECT_LT(t.begin, t.end);
  }
  EXPECT_THAT(Folded(tokenizer->Tokenize(comment)),
              testing::ElementsAre("hyvä", "palvelu"));
  EXPECT_TRUE(tokenizer->Tokenize("").empty());
}

}  // namespace
}  // namespace polku::text
