#include "lib/text/lemmatizer.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/text/test_data.h"

namespace polku::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct GoldForm {
  std::string form;
  std::string lemma;
  std::vector<std::string> parts;  // empty unless a compound
};

std::vector<GoldForm> FinnishGold() {
  std::vector<GoldForm> gold;
  for (const auto& row : ReadTestData("fi_lemmas.tsv")) {
    EXPECT_EQ(row.size(), 2u);
    std::vector<std::string> parts = absl::StrSplit(row[0], '+');
    if (parts.size() == 1) parts.clear();
    for (absl::string_view form :
         absl::StrSplit(row[1], ' ', absl::SkipEmpty())) {
      gold.push_back(GoldForm{std::string(form),
                              absl::StrReplaceAll(row[0], {{"+", ""}}),
                              parts});
    }
  }
  return gold;
}

TEST(FinnishLemmatizerTest, VoikkoGoldSetLemmaAccuracy) {
  if (!VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  absl::StatusOr<std::unique_ptr<Lemmatizer>> fi =
      NewFinnishLemmatizer(FinnishAnalyser::kVoikko);
  ASSERT_TRUE(fi.ok()) << fi.status();
  const std::vector<GoldForm> gold = FinnishGold();
  ASSERT_GE(gold.size(), 300u);
  int known = 0, right = 0, compounds = 0, split_right = 0;
  for (const GoldForm& g : gold) {
    const WordAnalysis a = (*fi)->Lemmatize(g.form, WordRole::kAny);
    if (a.fallback) {
      ADD_FAILURE() << g.form << ": Voikko does not know it";
      continue;
    }
    ++known;
    if (a.lemma == g.lemma) {
      ++right;
    } else {
      std::printf("  %s: %s, expected %s\n", g.form.c_str(), a.lemma.c_str(),
                  g.lemma.c_str());
    }
    if (!g.parts.empty()) {
      ++compounds;
      if (a.compound_parts == g.parts) {
        ++split_right;
      } else {
        std::printf("  %s: parts %s, expected %s\n", g.form.c_str(),
                    absl::StrJoin(a.compound_parts, "+").c_str(),
                    absl::StrJoin(g.parts, "+").c_str());
      }
    }
  }
  const double accuracy = static_cast<double>(right) / known;
  std::printf("Finnish gold set: %zu forms, %d known to Voikko, lemma "
              "accuracy %.1f %% (%d/%d), compounds split right %d/%d\n",
              gold.size(), known, 100 * accuracy, right, known, split_right,
              compounds);
  EXPECT_GE(accuracy, 0.97);
  EXPECT_GE(split_right, compounds * 95 / 100);
}

TEST(FinnishLemmatizerTest, UnknownWordsAreFallbacks) {
  for (FinnishAnalyser analyser :
       {FinnishAnalyser::kDefault, FinnishAnalyser::kSnowball}) {
    absl::StatusOr<std::unique_ptr<Lemmatizer>> fi =
        NewFinnishLemmatizer(analyser);
    ASSERT_TRUE(fi.ok()) << fi.status();
    for (const auto& row : ReadTestData("fi_unknown.txt")) {
      const WordAnalysis a = (*fi)->Lemmatize(row[0], WordRole::kAny);
      EXPECT_TRUE(a.fallback) << row[0];
      EXPECT_FALSE(a.lemma.empty()) << row[0];
      EXPECT_THAT(a.compound_parts, IsEmpty()) << row[0];
    }
  }
}

TEST(FinnishLemmatizerTest, VoikkoReadsGradationThatSnowballSplits) {
  // The reason for Voikko (issue 20): Snowball gives one lemma two stems.
  absl::StatusOr<std::unique_ptr<Lemmatizer>> snowball =
      NewFinnishLemmatizer(FinnishAnalyser::kSnowball);
  ASSERT_TRUE(snowball.ok());
  const WordAnalysis a = (*snowball)->Lemmatize("jonotusaika", WordRole::kAny);
  const WordAnalysis b = (*snowball)->Lemmatize("jonotusajat", WordRole::kAny);
  EXPECT_NE(a.lemma, b.lemma);
  EXPECT_TRUE(a.fallback);
  EXPECT_THAT(a.compound_parts, IsEmpty());
  if (!VoikkoBuilt()) return;
  absl::StatusOr<std::unique_ptr<Lemmatizer>> voikko =
      NewFinnishLemmatizer(FinnishAnalyser::kVoikko);
  ASSERT_TRUE(voikko.ok());
  const WordAnalysis c = (*voikko)->Lemmatize("jonotusajat", WordRole::kAny);
  EXPECT_EQ(c.lemma, "jonotusaika");
  EXPECT_FALSE(c.fallback);
  EXPECT_THAT(c.compound_parts, ElementsAre("jonotus", "aika"));
}

TEST(FinnishLemmatizerTest, NegatedRolePrefersTheVerb) {
  if (!VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  absl::StatusOr<std::unique_ptr<Lemmatizer>> fi =
      NewFinnishLemmatizer(FinnishAnalyser::kVoikko);
  ASSERT_TRUE(fi.ok());
  EXPECT_EQ((*fi)->Lemmatize("toimi", WordRole::kNegated).lemma, "toimia");
  EXPECT_EQ((*fi)->Lemmatize("saanut", WordRole::kNegated).lemma, "saada");
  EXPECT_EQ((*fi)->Lemmatize("vastannut", WordRole::kNegated).lemma, "vastata");
}

TEST(FinnishLemmatizerTest, MissingVoikkoDictionaryNamesThePath) {
  absl::StatusOr<std::unique_ptr<Lemmatizer>> fi =
      NewFinnishLemmatizer(FinnishAnalyser::kVoikko, "/no/such/voikko");
  ASSERT_FALSE(fi.ok());
  if (VoikkoBuilt()) {
    EXPECT_EQ(fi.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(fi.status().message(), HasSubstr("/no/such/voikko"));
    EXPECT_THAT(fi.status().message(), HasSubstr("voikko-fi"));
  } else {
    EXPECT_EQ(fi.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(SwedishLemmatizerTest, CompoundSet) {
  absl::StatusOr<std::unique_ptr<Lemmatizer>> sv = NewSwedishLemmatizer();
  ASSERT_TRUE(sv.ok()) << sv.status();
  int right = 0, total = 0;
  for (const auto& row : ReadTestData("sv_compounds.tsv")) {
    ++total;
    ASSERT_GE(row.size(), 2u);
    const std::string& lemma = row[1];
    std::vector<std::string> parts;
    if (row.size() > 2) parts = absl::StrSplit(row[2], ' ');
    const WordAnalysis a = (*sv)->Lemmatize(row[0], WordRole::kAny);
    EXPECT_FALSE(a.fallback) << row[0];
    EXPECT_EQ(a.lemma, lemma) << row[0];
    EXPECT_EQ(a.compound_parts, parts) << row[0];
    if (a.lemma == lemma && a.compound_parts == parts) ++right;
  }
  std::printf("Swedish compound set: %d/%d right\n", right, total);
}

TEST(SwedishLemmatizerTest, InflectionAndUnknownWords) {
  absl::StatusOr<std::unique_ptr<Lemmatizer>> sv = NewSwedishLemmatizer();
  ASSERT_TRUE(sv.ok());
  EXPECT_EQ((*sv)->Lemmatize("fungerar", WordRole::kAny).lemma, "fungera");
  EXPECT_EQ((*sv)->Lemmatize("leveranser", WordRole::kAny).lemma, "leverans");
  const WordAnalysis unknown =
      (*sv)->Lemmatize("appinloggningen", WordRole::kAny);
  EXPECT_TRUE(unknown.fallback);
  EXPECT_EQ(unknown.lemma, "appinloggning");  // Snowball's stem
}

TEST(SwedishLemmatizerTest, MissingDictionaryNamesThePath) {
  absl::StatusOr<std::unique_ptr<Lemmatizer>> sv =
      NewSwedishLemmatizer("/no/such/sv_SE");
  ASSERT_FALSE(sv.ok());
  EXPECT_EQ(sv.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(sv.status().message(), HasSubstr("/no/such/sv_SE.aff"));
  EXPECT_THAT(sv.status().message(), HasSubstr("hunspell-sv-se"));
}

TEST(EnglishLemmatizerTest, SnowballStems) {
  absl::StatusOr<std::unique_ptr<Lemmatizer>> en =
      NewSnowballLemmatizer(Language::kEnglish, /*fallback=*/false);
  ASSERT_TRUE(en.ok());
  for (const char* w : {"work", "works", "working", "worked"}) {
    const WordAnalysis a = (*en)->Lemmatize(w, WordRole::kAny);
    EXPECT_EQ(a.lemma, "work") << w;
    EXPECT_FALSE(a.fallback);
  }
  EXPECT_EQ((*en)->Lemmatize("deliveries", WordRole::kAny).lemma,
            (*en)->Lemmatize("delivery", WordRole::kAny).lemma);
  EXPECT_FALSE(NewSnowballLemmatizer(Language::kUnknown, false).ok());
}

}  // namespace
}  // namespace polku::text
