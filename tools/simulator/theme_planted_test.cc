// polku-sim's comments end to end: written at the configured rate and in
// the customers' languages, planted themes in their share of the low-score
// comments of their touchpoint, the neutral phrase as often with low scores
// as without, and — analysed with lib/text as the themes analytic will —
// the planted lemmas stand out while the neutral phrase does not.
#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lib/stats/significance.h"
#include "lib/text/analyzer.h"
#include "lib/text/lemmatizer.h"
#include "tools/simulator/comments.h"
#include "tools/simulator/planted.h"
#include "tools/simulator/simulator.h"

namespace polku::sim {
namespace {

constexpr char kJourney[] = R"({
  "key": "switching", "name": "Switching mobile operator", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "research"}, {"key": "purchase"}, {"key": "use"}],
  "touchpoints": [
    {"key": "web_site", "stage": "research", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_sales", "stage": "purchase", "channel": "shop", "kind": "INTERACTION"},
    {"key": "welcome_email", "stage": "use", "channel": "email", "kind": "INTERACTION"},
    {"key": "relationship", "stage": "use", "channel": "email", "kind": "OUTCOME"}
  ]})";

v1::Journey Journey() {
  v1::Journey journey;
  auto status = google::protobuf::util::JsonStringToMessage(kJourney, &journey);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return journey;
}

Options TestOptions(uint64_t seed, int customers) {
  Options options;
  options.seed = seed;
  options.customers = customers;
  options.first_day = absl::CivilDay(2025, 3, 1);
  options.days = 14;
  options.channels = {"web", "shop", "email"};
  return options;
}

Options WithThemes(Options options) {
  EXPECT_TRUE(ParseTheme("web_site:fi:toimitus:0.3", options.planted).ok());
  EXPECT_TRUE(ParseTheme("shop_sales:sv:leverans:0.4", options.planted).ok());
  return options;
}

std::vector<v1::TouchpointEvent> AllEvents(const Simulation& sim) {
  std::vector<v1::TouchpointEvent> all;
  for (const auto& [channel, events] : sim.events) {
    all.insert(all.end(), events.begin(), events.end());
  }
  return all;
}

bool Scored(const v1::TouchpointEvent& event) {
  return event.has_csat() || event.has_nps() || event.has_ces();
}

// The planted theme whose sentence the comment contains, or nullptr.
const ThemeForms* PlantedIn(const std::string& comment) {
  for (const ThemeForms& theme : Themes()) {
    for (std::string_view sentence : theme.sentences) {
      if (absl::StrContains(comment, absl::string_view(sentence.data(), sentence.size()))) {
        return &theme;
      }
    }
  }
  return nullptr;
}

bool StartsWithNeutralPhrase(const v1::TouchpointEvent& event) {
  for (std::string_view language : kLanguages) {
    std::string_view phrase = NeutralPhraseOf(language).sentence;
    if (absl::StartsWith(event.comment(), absl::string_view(phrase.data(), phrase.size()))) {
      return true;
    }
  }
  return false;
}

TEST(SimulatedComments, ComeAtTheConfiguredRateInTheCustomersLanguages) {
  for (double share : {0.0, 0.3, 0.7, 1.0}) {
    Options options = TestOptions(5, 4000);
    options.comment_share = share;
    auto sim = Simulate({Journey()}, options);
    ASSERT_TRUE(sim.ok());
    int64_t scored = 0, commented = 0, unlabelled = 0;
    std::map<std::string, int64_t> languages;
    for (const v1::TouchpointEvent& event : AllEvents(*sim)) {
      if (!Scored(event) && event.comment().empty()) continue;
      ++scored;
      if (event.comment().empty()) continue;
      ++commented;
      if (event.language().empty()) ++unlabelled;
      ++languages[event.language()];
    }
    ASSERT_GT(scored, 5000);
    EXPECT_NEAR(static_cast<double>(commented) / scored, share, 0.02) << share;
    if (share == 0) continue;
    double n = static_cast<double>(commented);
    EXPECT_NEAR(unlabelled / n, 0.1, 0.02) << share;
    // Customers write 60 % in Finnish, 15 % in Swedish, 25 % in English.
    EXPECT_NEAR(languages["fi"] / n, 0.9 * 0.6, 0.05) << share;
    EXPECT_NEAR(languages["sv"] / n, 0.9 * 0.15, 0.04) << share;
    EXPECT_NEAR(languages["en"] / n, 0.9 * 0.25, 0.04) << share;
  }
}

TEST(SimulatedComments, LanguageMixIsParsedAndFollowed) {
  Options options = TestOptions(2, 4000);
  ASSERT_TRUE(ParseLanguageMix("sv:0.5,en:0.5", options.language_mix).ok());
  EXPECT_EQ(options.language_mix, (std::array<double, 3>{0, 0.5, 0.5}));
  options.unlabelled_share = 0;
  auto sim = Simulate({Journey()}, options);
  ASSERT_TRUE(sim.ok());
  std::map<std::string, int64_t> languages;
  int64_t comments = 0;
  for (const v1::TouchpointEvent& event : AllEvents(*sim)) {
    if (event.comment().empty()) continue;
    ++comments;
    ++languages[event.language()];
  }
  EXPECT_EQ(languages["fi"], 0);
  EXPECT_NEAR(static_cast<double>(languages["sv"]) / comments, 0.5, 0.05);

  std::array<double, 3> mix = {1, 0, 0};
  EXPECT_THAT(ParseLanguageMix("fi:0.6,de:0.4", mix).message(),
              ::testing::HasSubstr("\"de:0.4\" is not"));
  EXPECT_THAT(ParseLanguageMix("fi:0.6,sv", mix).message(), ::testing::HasSubstr("\"sv\" is not"));
  EXPECT_THAT(ParseLanguageMix("fi:0.6,sv:0.1", mix).message(),
              ::testing::HasSubstr("add up to 1, got 0.7"));
  EXPECT_EQ(mix, (std::array<double, 3>{1, 0, 0}));
  Options bad = TestOptions(1, 10);
  bad.language_mix = {0.5, 0.5, 0.5};
  EXPECT_THAT(Simulate({Journey()}, bad).status().message(),
              ::testing::HasSubstr("language_mix"));
}

TEST(SimulatedComments, SharesOutOfRangeAreRefusedByName) {
  Options options = TestOptions(1, 10);
  options.comment_share = 1.5;
  EXPECT_THAT(Simulate({Journey()}, options).status().message(),
              ::testing::HasSubstr("comment_share"));
  options = TestOptions(1, 10);
  options.neutral_phrase_share = -0.1;
  EXPECT_THAT(Simulate({Journey()}, options).status().message(),
              ::testing::HasSubstr("neutral_phrase_share"));
}

TEST(SimulatedComments, PlantedThemesTakeTheirShareOfLowScoreCommentsOnly) {
  // Per language: low-score comments at the theme's touchpoint, and those
  // with the theme.
  const std::map<std::string, std::string> touchpoint_of = {{"fi", "web_site"},
                                                            {"sv", "shop_sales"}};
  std::map<std::string, stats::Proportion> planted;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Options options = WithThemes(TestOptions(seed, 4000));
    options.comment_share = 1;
    // Swedish as often as Finnish, so that both shares are measured on
    // hundreds of low-score comments.
    options.language_mix = {0.45, 0.45, 0.1};
    auto sim = Simulate({Journey()}, options);
    ASSERT_TRUE(sim.ok());
    for (const v1::TouchpointEvent& event : AllEvents(*sim)) {
      if (event.comment().empty()) continue;
      const ThemeForms* theme = PlantedIn(event.comment());
      if (event.language().empty() || !touchpoint_of.count(event.language())) {
        continue;  // its language is not known here, or no theme is planted in it
      }
      if (event.touchpoint() != touchpoint_of.at(event.language()) || !IsLowScore(event)) {
        EXPECT_EQ(theme, nullptr) << event.ShortDebugString();
        continue;
      }
      stats::Proportion& p = planted[event.language()];
      ++p.n;
      if (theme != nullptr) {
        EXPECT_EQ(theme->language, event.language());
        ++p.successes;
      }
    }
  }
  ASSERT_GT(planted["fi"].n, 200) << planted["sv"].n;
  ASSERT_GT(planted["sv"].n, 200) << planted["fi"].n;
  EXPECT_NEAR(static_cast<double>(planted["fi"].successes) / planted["fi"].n, 0.3, 0.05);
  EXPECT_NEAR(static_cast<double>(planted["sv"].successes) / planted["sv"].n, 0.4, 0.08);
}

TEST(SimulatedComments, NeutralPhraseIsAsFrequentWithLowScoresAsWithOthers) {
  Options options = WithThemes(TestOptions(3, 4000));
  auto sim = Simulate({Journey()}, options);
  ASSERT_TRUE(sim.ok());
  // (touchpoint, low) → comments and those with the phrase.
  std::map<std::pair<std::string, bool>, stats::Proportion> phrase;
  for (const v1::TouchpointEvent& event : AllEvents(*sim)) {
    if (event.comment().empty()) continue;
    stats::Proportion& p = phrase[{event.touchpoint(), IsLowScore(event)}];
    ++p.n;
    if (StartsWithNeutralPhrase(event)) ++p.successes;
  }
  for (const auto& [key, p] : phrase) {
    if (p.n < 100) continue;
    // Exactly 20 % per language, up to one comment each.
    EXPECT_NEAR(static_cast<double>(p.successes) / p.n, 0.2, 4.0 / p.n)
        << key.first << (key.second ? " low" : " other");
  }
}

TEST(SimulatedComments, SameSeedSameBytesAndCommentsNeverChangeTheScores) {
  auto a = Simulate({Journey()}, WithThemes(TestOptions(9, 800)));
  auto b = Simulate({Journey()}, WithThemes(TestOptions(9, 800)));
  auto plain = Simulate({Journey()}, TestOptions(9, 800));
  ASSERT_TRUE(a.ok() && b.ok() && plain.ok());
  std::vector<v1::TouchpointEvent> events_a = AllEvents(*a), events_b = AllEvents(*b),
                                   events_plain = AllEvents(*plain);
  ASSERT_EQ(events_a.size(), events_b.size());
  ASSERT_EQ(events_a.size(), events_plain.size());
  bool themed = false;
  for (size_t i = 0; i < events_a.size(); ++i) {
    ASSERT_EQ(events_a[i].SerializeAsString(), events_b[i].SerializeAsString()) << i;
    themed = themed || PlantedIn(events_a[i].comment()) != nullptr;
    // Planting a theme changes what is written, nothing else.
    v1::TouchpointEvent without = events_a[i], plain_event = events_plain[i];
    without.clear_comment();
    plain_event.clear_comment();
    EXPECT_EQ(without.ShortDebugString(), plain_event.ShortDebugString());
  }
  EXPECT_TRUE(themed);
}

// The simulator's promise (simulator.h): a re-run re-sends the same events,
// so a run later on, with more touches having happened, must give every
// event of the earlier run unchanged — neutral phrases included.
TEST(SimulatedComments, ALaterRunReSendsTheEarlierEventsUnchanged) {
  Options early = WithThemes(TestOptions(4, 2000));
  early.not_after = absl::FromCivil(absl::CivilDay(2025, 3, 9), absl::UTCTimeZone());
  Options late = early;
  late.not_after = absl::FromCivil(absl::CivilDay(2025, 3, 12), absl::UTCTimeZone());
  auto a = Simulate({Journey()}, early);
  auto b = Simulate({Journey()}, late);
  ASSERT_TRUE(a.ok() && b.ok());
  std::map<std::string, std::string> later;
  for (const v1::TouchpointEvent& event : AllEvents(*b)) {
    later[event.event_id()] = event.SerializeAsString();
  }
  std::vector<v1::TouchpointEvent> earlier = AllEvents(*a);
  ASSERT_GT(earlier.size(), 1000u);
  EXPECT_GT(later.size(), earlier.size());
  for (const v1::TouchpointEvent& event : earlier) {
    auto it = later.find(event.event_id());
    ASSERT_NE(it, later.end()) << event.event_id();
    EXPECT_EQ(it->second, event.SerializeAsString()) << event.ShortDebugString();
  }
}

// What the themes analytic will do (docs/themes.md): per touchpoint, terms
// counted once per comment, low-score comments against the rest, a
// two-proportion z per term.
TEST(SimulatedComments, PlantedLemmasStandOutAndTheNeutralPhraseDoesNot) {
  // The lemmas are Voikko's; a POLKU_VOIKKO=OFF build stems Finnish instead.
  if (!text::VoikkoBuilt()) GTEST_SKIP() << "built with POLKU_VOIKKO=OFF";
  auto analyzer = text::Analyzer::Create({});
  ASSERT_TRUE(analyzer.ok()) << analyzer.status();
  for (uint64_t seed : {11, 12, 13}) {
    Options options = WithThemes(TestOptions(seed, 6000));
    // Swedish as common as a planted Swedish theme needs (simulator.h).
    options.language_mix = {0.45, 0.35, 0.2};
    auto sim = Simulate({Journey()}, options);
    ASSERT_TRUE(sim.ok());
    for (const auto& [touchpoint, planted] :
         std::map<std::string, std::string>{{"web_site", "toimitus"}, {"shop_sales", "leverans"}}) {
      std::map<std::string, stats::Proportion> low, rest;  // term → comments with it
      stats::Proportion low_total, rest_total;
      for (const v1::TouchpointEvent& event : AllEvents(*sim)) {
        if (event.comment().empty() || event.touchpoint() != touchpoint) continue;
        auto analysis = (*analyzer)->Analyze(event.comment(), event.language());
        ASSERT_TRUE(analysis.ok()) << analysis.status();
        std::set<std::string> terms;
        for (const text::Term& term : analysis->terms) terms.insert(term.lemma);
        if (const ThemeForms* theme = PlantedIn(event.comment())) {
          EXPECT_TRUE(terms.count(std::string(theme->lemma))) << event.comment();
        }
        bool is_low = IsLowScore(event);
        ++(is_low ? low_total : rest_total).n;
        for (const std::string& term : terms) ++(is_low ? low : rest)[term].successes;
      }
      std::vector<std::pair<double, std::string>> ranked;
      std::map<std::string, double> z;
      std::set<std::string> all_terms;
      for (const auto& [term, p] : low) all_terms.insert(term);
      for (const auto& [term, p] : rest) all_terms.insert(term);
      for (const std::string& term : all_terms) {
        stats::TestResult r = stats::TwoProportionZTest({rest[term].successes, rest_total.n},
                                                        {low[term].successes, low_total.n});
        z[term] = r.statistic;
        ranked.push_back({r.statistic, term});
      }
      std::sort(ranked.rbegin(), ranked.rend());
      std::vector<std::string> top3;
      for (size_t i = 0; i < 3 && i < ranked.size(); ++i) top3.push_back(ranked[i].second);
      EXPECT_THAT(top3, ::testing::Contains(planted)) << touchpoint << ", seed " << seed;
      EXPECT_GT(z[planted], 3) << planted << ", seed " << seed;
      for (const char* neutral : {"käydä", "kauppa", "butik", "visit", "store"}) {
        EXPECT_LT(std::abs(z[neutral]), 1)
            << neutral << " at " << touchpoint << ", seed " << seed << ": "
            << low[neutral].successes << "/" << low_total.n << " vs " << rest[neutral].successes
            << "/" << rest_total.n;
      }
    }
  }
}

TEST(PlantedTheme, BadSpecsAreRefusedNamingTheProblem) {
  PlantedTruths truths;
  EXPECT_THAT(ParseTheme("web_site:fi:toimitus", truths).message(),
              ::testing::HasSubstr("TOUCHPOINT:LANG:LEMMA:SHARE"));
  EXPECT_THAT(ParseTheme(":fi:toimitus:0.3", truths).message(),
              ::testing::HasSubstr("TOUCHPOINT:LANG:LEMMA:SHARE"));
  EXPECT_THAT(ParseTheme("web_site:de:toimitus:0.3", truths).message(),
              ::testing::HasSubstr("LANG must be fi, sv or en"));
  EXPECT_THAT(ParseTheme("web_site:fi:kissa:0.3", truths).message(),
              ::testing::AllOf(::testing::HasSubstr("no plantable fi theme \"kissa\""),
                               ::testing::HasSubstr("toimitus, lasku")));
  EXPECT_THAT(ParseTheme("web_site:sv:toimitus:0.3", truths).message(),
              ::testing::HasSubstr("no plantable sv theme"));
  EXPECT_THAT(ParseTheme("web_site:fi:toimitus:1.5", truths).message(),
              ::testing::HasSubstr("SHARE must be a number in [0, 1]"));
  EXPECT_THAT(ParseTheme("web_site:fi:toimitus:lots", truths).message(),
              ::testing::HasSubstr("got \"lots\""));
  EXPECT_TRUE(truths.themes.empty());

  ASSERT_TRUE(ParseTheme("no_such:fi:toimitus:0.3", truths).ok());
  absl::Status unknown = CheckAgainst(truths, {Journey()});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), ::testing::HasSubstr("\"no_such\""));

  PlantedTruths too_much;
  ASSERT_TRUE(ParseTheme("web_site:fi:toimitus:0.7", too_much).ok());
  ASSERT_TRUE(ParseTheme("web_site:fi:lasku:0.4", too_much).ok());
  absl::Status sum = CheckAgainst(too_much, {Journey()});
  EXPECT_EQ(sum.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sum.message(), ::testing::HasSubstr("add up to more than 1"));
}

TEST(PlantedTheme, WrittenAsJsonWithItsLemmaAndForms) {
  PlantedTruths truths;
  ASSERT_TRUE(ParseTheme("web_site:en:delivery:0.25", truths).ok());
  ASSERT_EQ(truths.themes.size(), 1u);
  EXPECT_EQ(truths.themes[0].lemma, "deliveri");  // as lib/text gives it
  std::string json = TruthsToJson(truths);
  EXPECT_THAT(json, ::testing::HasSubstr(
                        "\"themes\": [\n    {\"touchpoint\": \"web_site\", \"language\": \"en\", "
                        "\"lemma\": \"deliveri\", \"share\": 0.25, \"forms\": [\"The delivery "
                        "was late again by several days.\""));
  EXPECT_THAT(json, ::testing::HasSubstr(
                        "\"neutral_phrases\": [\n    {\"language\": \"fi\", \"text\": \"Kävin "
                        "kaupassa.\", \"lemmas\": [\"käydä\", \"kauppa\"]}"));
  EXPECT_THAT(TruthsToJson(PlantedTruths{}), ::testing::Not(::testing::HasSubstr("themes")));
}

}  // namespace
}  // namespace polku::sim
