// The contract with the themes analytic: every planted surface form gives
// the planted lemma under lib/text's Analyzer, the neutral phrase gives its
// lemmas and no other sentence does, and no generic sentence mentions a
// plantable theme.
#include "tools/simulator/comments.h"

#include <cstring>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/text/analyzer.h"
#include "lib/text/lemmatizer.h"

namespace polku::sim {
namespace {

class CommentsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto analyzer = text::Analyzer::Create({});
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = analyzer->release();
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    analyzer_ = nullptr;
  }

  // The comment's terms, analysed as `language` (or detected when "").
  static std::set<std::string> Terms(std::string_view comment, std::string_view language) {
    auto analysis = analyzer_->Analyze(absl::string_view(comment.data(), comment.size()),
                                       absl::string_view(language.data(), language.size()));
    EXPECT_TRUE(analysis.ok()) << analysis.status();
    std::set<std::string> terms;
    if (!analysis.ok()) return terms;
    for (const text::Term& term : analysis->terms) terms.insert(term.lemma);
    return terms;
  }

  static std::vector<std::string_view> AllBankSentences(std::string_view language) {
    std::vector<std::string_view> all;
    for (Sentiment sentiment :
         {Sentiment::kNegative, Sentiment::kNeutral, Sentiment::kPositive}) {
      for (std::string_view channel : {"shop", "phone", "web", "email"}) {
        for (std::string_view s : Sentences(language, sentiment, channel)) all.push_back(s);
      }
    }
    return all;
  }

  static const text::Analyzer* analyzer_;
};

const text::Analyzer* CommentsTest::analyzer_ = nullptr;

int Words(std::string_view comment) {
  std::vector<std::string> words =
      absl::StrSplit(std::string(comment), ' ', absl::SkipEmpty());
  return static_cast<int>(words.size());
}

TEST_F(CommentsTest, EveryPlantedSurfaceFormGivesThePlantedLemma) {
  // The lemmas are Voikko's; a POLKU_VOIKKO=OFF build stems Finnish instead.
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  for (const ThemeForms& theme : Themes()) {
    std::set<std::string> forms;
    for (std::string_view sentence : theme.sentences) {
      std::set<std::string> terms = Terms(sentence, theme.language);
      EXPECT_TRUE(terms.count(std::string(theme.lemma)))
          << theme.language << " \"" << sentence << "\" lacks " << theme.lemma
          << "; its terms: " << absl::StrJoin(terms, " ");
      // Also when the event leaves the language to be detected.
      std::set<std::string> detected = Terms(sentence, "");
      EXPECT_TRUE(detected.count(std::string(theme.lemma)))
          << theme.language << " \"" << sentence << "\" (language detected) lacks "
          << theme.lemma << "; its terms: " << absl::StrJoin(detected, " ");
    }
    EXPECT_GE(theme.sentences.size(), 5u) << theme.lemma;
  }
}

TEST_F(CommentsTest, NeutralPhraseGivesItsLemmasAndNoOtherSentenceDoes) {
  // The lemmas are Voikko's; a POLKU_VOIKKO=OFF build stems Finnish instead.
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  for (std::string_view language : kLanguages) {
    const NeutralPhrase& phrase = NeutralPhraseOf(language);
    ASSERT_EQ(phrase.language, language);
    std::set<std::string> terms = Terms(phrase.sentence, language);
    for (std::string_view lemma : phrase.lemmas) {
      EXPECT_TRUE(terms.count(std::string(lemma)))
          << "\"" << phrase.sentence << "\" lacks " << lemma << "; its terms: "
          << absl::StrJoin(terms, " ");
    }
    std::vector<std::string_view> others = AllBankSentences(language);
    for (const ThemeForms& theme : Themes()) {
      if (theme.language != language) continue;
      others.insert(others.end(), theme.sentences.begin(), theme.sentences.end());
    }
    for (std::string_view sentence : others) {
      std::set<std::string> other_terms = Terms(sentence, language);
      for (std::string_view lemma : phrase.lemmas) {
        EXPECT_FALSE(other_terms.count(std::string(lemma)))
            << "\"" << sentence << "\" has the neutral phrase's " << lemma;
      }
    }
  }
}

TEST_F(CommentsTest, GenericSentencesMentionNoPlantableTheme) {
  // The lemmas are Voikko's; a POLKU_VOIKKO=OFF build stems Finnish instead.
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  for (const ThemeForms& theme : Themes()) {
    for (std::string_view sentence : AllBankSentences(theme.language)) {
      EXPECT_FALSE(Terms(sentence, theme.language).count(std::string(theme.lemma)))
          << "\"" << sentence << "\" mentions the plantable " << theme.lemma;
    }
  }
}

// A generic complaint word in many of a channel's complaints would rank
// with the planted themes; Finnish, most comments, repeats none.
TEST_F(CommentsTest, ComplaintsSpreadOverManyWords) {
  // The lemmas are Voikko's; a POLKU_VOIKKO=OFF build stems Finnish instead.
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  for (std::string_view language : kLanguages) {
    for (std::string_view channel : {"shop", "phone", "web", "email"}) {
      std::vector<std::string_view> complaints =
          Sentences(language, Sentiment::kNegative, channel);
      EXPECT_GE(complaints.size(), 13u);
      std::map<std::string, int> sentences_with;
      for (std::string_view sentence : complaints) {
        for (const std::string& term : Terms(sentence, language)) ++sentences_with[term];
      }
      for (const auto& [term, n] : sentences_with) {
        EXPECT_LE(n, language == "fi" ? 1 : 3) << language << " " << channel << ": " << term;
      }
    }
  }
}

TEST(Comments, HaveFiveToTwentyWords) {
  Random random(7);
  for (std::string_view language : kLanguages) {
    for (Sentiment sentiment :
         {Sentiment::kNegative, Sentiment::kNeutral, Sentiment::kPositive}) {
      for (std::string_view channel : {"shop", "phone", "web", "email", "chat"}) {
        ASSERT_FALSE(Sentences(language, sentiment, channel).empty());
        for (bool neutral : {false, true}) {
          for (int i = 0; i < 50; ++i) {
            std::string comment = WriteComment(
                {.language = language, .sentiment = sentiment, .channel = channel,
                 .neutral_phrase = neutral},
                random);
            EXPECT_THAT(Words(comment), ::testing::AllOf(::testing::Ge(5), ::testing::Le(20)))
                << comment;
          }
        }
      }
    }
  }
  for (std::string_view language : kLanguages) {
    int phrase_words = Words(NeutralPhraseOf(language).sentence);
    for (Sentiment sentiment :
         {Sentiment::kNegative, Sentiment::kNeutral, Sentiment::kPositive}) {
      for (std::string_view channel : {"shop", "phone", "web", "email"}) {
        for (std::string_view sentence : Sentences(language, sentiment, channel)) {
          EXPECT_THAT(Words(sentence),
                      ::testing::AllOf(::testing::Ge(5), ::testing::Le(20 - phrase_words)))
              << sentence;
        }
      }
    }
  }
  for (const ThemeForms& theme : Themes()) {
    for (std::string_view sentence : theme.sentences) {
      std::string with_phrase =
          std::string(NeutralPhraseOf(theme.language).sentence) + " " + std::string(sentence);
      EXPECT_GE(Words(sentence), 5) << sentence;
      EXPECT_LE(Words(with_phrase), 20) << with_phrase;
    }
  }
}

TEST(Comments, ThemesAreFoundByLemmaOrWord) {
  ASSERT_NE(FindTheme("en", "delivery"), nullptr);
  EXPECT_EQ(FindTheme("en", "delivery"), FindTheme("en", "deliveri"));
  EXPECT_NE(FindTheme("fi", "toimitus"), nullptr);
  EXPECT_NE(FindTheme("sv", "leverans"), nullptr);
  EXPECT_EQ(FindTheme("sv", "toimitus"), nullptr);
  EXPECT_EQ(FindTheme("fi", "kissa"), nullptr);
}

TEST(Comments, PlantedThemeAndNeutralPhraseAreWritten) {
  Random random(1);
  const ThemeForms* theme = FindTheme("fi", "toimitus");
  std::string comment = WriteComment({.language = "fi",
                                      .sentiment = Sentiment::kNegative,
                                      .channel = "web",
                                      .neutral_phrase = true,
                                      .theme = theme},
                                     random);
  EXPECT_THAT(comment, ::testing::StartsWith("Kävin kaupassa. "));
  EXPECT_THAT(theme->sentences,
              ::testing::Contains(std::string_view(comment).substr(strlen("Kävin kaupassa. "))));
}

}  // namespace
}  // namespace polku::sim
