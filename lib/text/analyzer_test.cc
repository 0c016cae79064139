#include "lib/text/analyzer.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::text {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

std::unique_ptr<Analyzer> NewAnalyzer(
    FinnishAnalyser finnish = FinnishAnalyser::kDefault) {
  absl::StatusOr<std::unique_ptr<Analyzer>> analyzer =
      Analyzer::Create({.finnish = finnish});
  EXPECT_TRUE(analyzer.ok()) << analyzer.status();
  return analyzer.ok() ? *std::move(analyzer) : nullptr;
}

std::vector<std::string> Lemmas(const CommentAnalysis& a) {
  std::vector<std::string> out;
  for (const Term& t : a.terms) out.push_back(t.lemma);
  return out;
}

std::string Describe(const CommentAnalysis& a) {
  std::string out = absl::StrCat(LanguageCode(a.language), a.detected ? "?" : "");
  for (const Term& t : a.terms) {
    absl::StrAppend(&out, " ", t.lemma, "[", t.begin, ",", t.end, ")",
                    t.fallback ? "f" : "", t.compound_part ? "p" : "",
                    t.negated ? "n" : "");
  }
  return out;
}

TEST(AnalyzerTest, FinnishNegationCompoundsAndFallback) {
  if (!VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(
      "Sovellus ei toimi ja toimitusajan arvio oli väärä. Chatbotti ei "
      "auttanut.",
      "fi");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->detected);
  EXPECT_THAT(Lemmas(*a),
              ElementsAre("sovellus", "ei_toimia", "toimitusaika", "toimitus",
                          "aika", "arvio", "väärä", "chatbot", "ei_auttaa"))
      << Describe(*a);
  const Term& chatbot = a->terms[7];
  EXPECT_TRUE(chatbot.fallback);
  EXPECT_TRUE(a->terms[3].compound_part);
  EXPECT_TRUE(a->terms[1].negated);
}

TEST(AnalyzerTest, SwedishNegationAfterAndBeforeTheVerb) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(
      "Appen fungerar inte och jag har inte fått leveransförseningen "
      "förklarad.",
      "sv-FI");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Lemmas(*a), ElementsAre("app", "inte_fungera", "inte_få",
                                      "leveransförsening", "leverans",
                                      "försening", "förklara"))
      << Describe(*a);
}

TEST(AnalyzerTest, EnglishNegationForms) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  for (const char* comment :
       {"The app doesn't work.", "The app does not work", "App doesnt work!",
        "the app doesn’t work", "The app is not working"}) {
    absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(comment, "en");
    ASSERT_TRUE(a.ok());
    EXPECT_THAT(Lemmas(*a), ElementsAre("app", "not_work")) << comment;
  }
  // A negation reaches only its own clause.
  absl::StatusOr<CommentAnalysis> a =
      analyzer->Analyze("Not great. Delivery was fast", "en");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(Lemmas(*a), ElementsAre("not_great", "deliveri", "fast"));
  a = analyzer->Analyze("Honestly, not. Delivery was fast", "en");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(Lemmas(*a), ElementsAre("honest", "deliveri", "fast"));
}

TEST(AnalyzerTest, SpansAreTheSurfaceWordsWithMultiByteLetters) {
  // Which word the negation takes (the verb past the subject) needs
  // Voikko's word classes; the Snowball fallback negates the next word.
  if (!VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  const std::string comment =
      "Ääh! Kassajonossa 😡 odotin liian kauan, eikä myyjä vastannut.";
  absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(comment, "fi");
  ASSERT_TRUE(a.ok());
  std::vector<std::string> surfaces;
  for (const Term& t : a->terms) {
    ASSERT_LE(t.end, comment.size());
    if (!t.compound_part) surfaces.push_back(comment.substr(t.begin, t.end - t.begin));
  }
  EXPECT_THAT(surfaces, ElementsAre("Ääh", "Kassajonossa", "odotin", "liian",
                                    "kauan", "myyjä", "eikä myyjä vastannut"))
      << "the negated word is the verb, past the subject: "
      << Describe(*a);
}

TEST(AnalyzerTest, DetectsTheLanguageWhenNotGiven) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  struct Case {
    const char* comment;
    Language language;
  };
  for (const Case& c :
       {Case{"Paketti tuli perille myöhässä ja rikki.", Language::kFinnish},
        Case{"Paketet kom fram sent och var trasigt.", Language::kSwedish},
        Case{"The parcel arrived late and was broken.", Language::kEnglish},
        Case{"😡 123", Language::kUnknown}}) {
    absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(c.comment, "");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->language, c.language) << c.comment;
    EXPECT_EQ(a->detected, c.language != Language::kUnknown);
  }
}

TEST(AnalyzerTest, RejectsOtherLanguages) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  EXPECT_EQ(analyzer->Analyze("Das Paket kam zu spät", "de").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AnalyzerTest, SnowballFallbackForFinnishWhenAskedFor) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer(FinnishAnalyser::kSnowball);
  ASSERT_NE(analyzer, nullptr);
  absl::StatusOr<CommentAnalysis> a =
      analyzer->Analyze("Sovellus ei toimi, jonotusajat ovat pitkiä.", "fi");
  ASSERT_TRUE(a.ok());
  for (const Term& t : a->terms) {
    EXPECT_TRUE(t.fallback) << t.lemma;
    EXPECT_FALSE(t.compound_part) << t.lemma;
  }
  EXPECT_THAT(Lemmas(*a), Contains("ei_toimi")) << Describe(*a);
  EXPECT_THAT(Lemmas(*a), Not(Contains("ovat")));
}

TEST(AnalyzerTest, MissingDictionaryFailsCreateWithThePath) {
  absl::StatusOr<std::unique_ptr<Analyzer>> analyzer =
      Analyzer::Create({.swedish_dictionary = "/no/such/sv_SE"});
  ASSERT_FALSE(analyzer.ok());
  EXPECT_THAT(analyzer.status().message(), testing::HasSubstr("/no/such/sv_SE"));
}

const std::vector<std::pair<std::string, std::string>>& MixedComments() {
  static const auto* comments = new std::vector<std::pair<std::string, std::string>>{
      {"Toimitus kesti liian kauan eikä chatbotti auttanut.", ""},
      {"Kundtjänsten svarade inte och leveransförseningen förklarades aldrig.", ""},
      {"The courier didn't call and the parcel was left outside.", ""},
      {"Korvauspäätöksestä ei tullut tietoa, asiakaspalveluun ei päässyt.", "fi"},
      {"Appinloggningen fungerar inte på min telefon.", "sv"},
      {"Great staff, but the app doesn’t work on my phone.", "en"},
  };
  return *comments;
}

TEST(AnalyzerTest, SameInputGivesByteIdenticalOutput) {
  std::unique_ptr<Analyzer> first = NewAnalyzer();
  std::unique_ptr<Analyzer> second = NewAnalyzer();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<std::string> once;
  for (const auto& [comment, language] : MixedComments()) {
    once.push_back(Describe(*first->Analyze(comment, language)));
  }
  // Again, on a warm cache, and on a fresh analyser, in reverse order.
  for (size_t i = 0; i < once.size(); ++i) {
    const auto& [comment, language] = MixedComments()[i];
    EXPECT_EQ(Describe(*first->Analyze(comment, language)), once[i]);
  }
  for (size_t i = once.size(); i-- > 0;) {
    const auto& [comment, language] = MixedComments()[i];
    EXPECT_EQ(Describe(*second->Analyze(comment, language)), once[i]);
  }
}

TEST(AnalyzerTest, ManyThreadsAtOnce) {
  std::unique_ptr<Analyzer> analyzer = NewAnalyzer();
  ASSERT_NE(analyzer, nullptr);
  std::vector<std::string> expected;
  for (const auto& [comment, language] : MixedComments()) {
    expected.push_back(Describe(*analyzer->Analyze(comment, language)));
  }
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < expected.size(); ++i) {
          const auto& [comment, language] = MixedComments()[i];
          absl::StatusOr<CommentAnalysis> a = analyzer->Analyze(comment, language);
          if (!a.ok() || Describe(*a) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, testing::Each(0));
  EXPECT_GE(analyzer->workers(), 1u);
  EXPECT_LE(analyzer->workers(), static_cast<size_t>(kThreads) + 1);
}

}  // namespace
}  // namespace polku::text
