// Planted truth for GetThemes over simulator seeds: polku-sim's comments
// (tools/simulator) with a Finnish theme (toimitus) planted at one
// touchpoint and a Swedish one (leverans) at another, each in several
// inflected forms and compounds, counted into the in-memory store as
// polku-insight would count them, and ComputeThemes asked per touchpoint.
// Each planted theme must rank in its touchpoint's top 3 with z > 3
// (recall), never in the top 3 or with z > 3 where it was not planted
// (false positives), and the neutral phrase's lemmas must not stand out.
// The numbers are reported in docs/themes.md, "Planted truth over seeds".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/json_util.h"
#include "lib/base/status_macros.h"
#include "lib/text/lemmatizer.h"
#include "services/insight/analytics/themes.h"
#include "services/insight/store/rollup_test_util.h"
#include "tools/simulator/simulator.h"

namespace polku::insight {
namespace {

constexpr int kSeeds = 20;
constexpr int kCustomers = 5000;

constexpr char kJourney[] = R"({
  "key": "switching", "name": "Switching mobile operator", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "research"}, {"key": "purchase"}, {"key": "use"}],
  "touchpoints": [
    {"key": "web_site", "stage": "research", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_sales", "stage": "purchase", "channel": "shop", "kind": "INTERACTION"},
    {"key": "welcome_email", "stage": "use", "channel": "email", "kind": "INTERACTION"},
    {"key": "relationship", "stage": "use", "channel": "email", "kind": "OUTCOME"}
  ]})";

const std::vector<std::string> kTouchpoints = {"web_site", "shop_sales",
                                               "welcome_email", "relationship"};

struct Planted {
  std::string touchpoint;
  std::string language;
  std::string lemma;
};
// At touchpoints with many low scores (shop_sales has about 3 %: a theme
// in 0.4 of its Swedish ones is in fewer comments than min_count).
const std::vector<Planted> kPlanted = {{"web_site", "fi", "toimitus"},
                                       {"welcome_email", "sv", "leverans"}};

// The neutral phrases' lemmas (comments.h, NeutralPhraseOf), present in
// 20 % of every group's comments.
const std::vector<std::string> kNeutral = {"käydä", "kauppa", "butik",
                                           "visit", "store"};

const text::Analyzer& SharedAnalyzer() {
  static const text::Analyzer* analyzer = [] {
    absl::StatusOr<std::unique_ptr<text::Analyzer>> made =
        text::Analyzer::Create({});
    EXPECT_TRUE(made.ok()) << made.status();
    return made->release();
  }();
  return *analyzer;
}

// Per seed and touchpoint, GetThemes' answer (max 200 themes) with the
// default min_count and (`neutral`) with min_count 30, few enough terms that
// the neutral phrases' lemmas (z near 0, mid-ranked) are among the 200.
struct Answer {
  v1::Themes themes;
  v1::Themes neutral;
};
using Answers = std::map<std::pair<int, std::string>, Answer>;

absl::StatusOr<Answers> RunSeeds() {
  v1::Journey journey;
  if (auto s = google::protobuf::util::JsonStringToMessage(kJourney, &journey);
      !s.ok()) {
    return absl::InternalError(std::string(s.message()));
  }
  std::map<std::string, std::string> stage_of;
  for (const v1::Touchpoint& t : journey.touchpoints()) {
    stage_of[t.key()] = t.stage();
  }
  Answers answers;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    sim::Options options;
    options.seed = seed;
    options.customers = kCustomers;
    options.first_day = absl::CivilDay(2025, 3, 1);
    options.days = 14;
    options.channels = {"web", "shop", "email"};
    // Swedish as common as a planted Swedish theme needs (simulator.h).
    options.language_mix = {0.45, 0.35, 0.2};
    for (const Planted& p : kPlanted) {
      POLKU_RETURN_IF_ERROR(sim::ParseTheme(
          absl::StrCat(p.touchpoint, ":", p.language, ":", p.lemma, ":",
                       p.language == "fi" ? "0.3" : "0.4"),
          options.planted));
    }
    POLKU_ASSIGN_OR_RETURN(const sim::Simulation simulation,
                           sim::Simulate({journey}, options));
    testing::FakeRollupStore store;
    int64_t sequence = 0;
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    for (const auto& [channel, events] : simulation.events) {
      for (const v1::TouchpointEvent& event : events) {
        v1::StoredEvent& stored = *page.Add();
        stored.set_sequence(++sequence);
        stored.set_tenant("acme");
        stored.set_channel(channel);
        stored.set_journey("switching");
        stored.set_journey_version(1);
        stored.set_stage(stage_of[event.touchpoint()]);
        stored.set_customer_hash(event.customer());
        *stored.mutable_event() = event;
        if (page.size() == 1000) {
          POLKU_RETURN_IF_ERROR(store.Apply(page));
          page.Clear();
        }
      }
    }
    if (!page.empty()) POLKU_RETURN_IF_ERROR(store.Apply(page));
    ThemeIndex index(store, store, SharedAnalyzer());
    for (const std::string& touchpoint : kTouchpoints) {
      v1::GetThemesRequest request;
      request.mutable_scope()->set_journey("switching");
      request.mutable_scope()->set_touchpoint(touchpoint);
      request.set_max_themes(200);
      Answer& answer = answers[std::make_pair(seed, touchpoint)];
      POLKU_ASSIGN_OR_RETURN(answer.themes,
                             ComputeThemes(index, "acme", request));
      request.set_min_count(30);
      POLKU_ASSIGN_OR_RETURN(answer.neutral,
                             ComputeThemes(index, "acme", request));
    }
  }
  return answers;
}

class ThemesPlantedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<Answers> answers = RunSeeds();
    ASSERT_TRUE(answers.ok()) << answers.status();
    answers_ = new Answers(*std::move(answers));
  }
  static void TearDownTestSuite() {
    delete answers_;
    answers_ = nullptr;
  }
  // A failed run of the seeds fails the test instead of reading nothing.
  void SetUp() override {
    ASSERT_NE(answers_, nullptr) << "the simulations did not run (above)";
  }

  // 0-based rank of `term` in the answer, or -1; its z in `z`.
  static int RankOf(const v1::Themes& themes, const std::string& term,
                    double& z) {
    z = 0;
    for (int k = 0; k < themes.themes_size(); ++k) {
      if (themes.themes(k).term() == term) {
        z = themes.themes(k).z();
        return k;
      }
    }
    return -1;
  }

  static std::string Top(const v1::Themes& themes) {
    std::string out;
    for (int k = 0; k < 5 && k < themes.themes_size(); ++k) {
      absl::StrAppend(&out, themes.themes(k).term(), " (z ",
                      themes.themes(k).z(), ") ");
    }
    return out;
  }

  // Recall and false positives of one planted theme over every seed.
  static void Check(const Planted& planted) {
    int top1 = 0, top3 = 0, false_positives = 0, elsewhere = 0;
    for (int seed = 1; seed <= kSeeds; ++seed) {
      for (const std::string& touchpoint : kTouchpoints) {
        const v1::Themes& themes = answers_->at({seed, touchpoint}).themes;
        double z = 0;
        const int rank = RankOf(themes, planted.lemma, z);
        if (touchpoint == planted.touchpoint) {
          EXPECT_GE(rank, 0) << planted.lemma << ", seed " << seed << ": "
                             << themes.comments() << " comments, "
                             << themes.low_comments() << " low; "
                             << Top(themes);
          EXPECT_LT(rank, 3) << planted.lemma << ", seed " << seed << ": "
                             << Top(themes);
          EXPECT_GT(z, 3) << planted.lemma << ", seed " << seed;
          top1 += rank == 0;
          top3 += rank >= 0 && rank < 3 && z > 3;
          continue;
        }
        ++elsewhere;
        // Where it was not planted, the lemma may occur (the generic
        // sentences never have it), but must not stand out.
        const bool stands_out = rank >= 0 && (rank < 3 || z > 3);
        false_positives += stands_out;
        EXPECT_FALSE(stands_out)
            << planted.lemma << " at " << touchpoint << ", seed " << seed
            << ": rank " << rank << ", z " << z;
      }
    }
    std::printf(
        "planted %s (%s) at %s over %d seeds: top 1 in %d, top 3 with z > 3 "
        "in %d; false positives %d of %d other touchpoint answers\n",
        planted.lemma.c_str(), planted.language.c_str(),
        planted.touchpoint.c_str(), kSeeds, top1, top3, false_positives,
        elsewhere);
  }

  static void CheckNeutralPhrase();

  static Answers* answers_;
};



Answers* ThemesPlantedTest::answers_ = nullptr;

// The neutral phrase is in as large a share of low-score comments as of the
// others, so its lemmas must not stand out: every |z| below 1. (When the
// log-odds counted term occurrences, the longer low-score comments that carry
// a planted theme pushed two of 356 just past 1; counting comments fixed it.)
// One test, so that the 20 simulations run once per ctest process (about
// 11 s in release, 4 min under ASan on a loaded 2-core machine).
TEST_F(ThemesPlantedTest, PlantedThemesRankTopWhereTheyWerePlantedOnly) {
  // Swedish lemmas and compounds come from hunspell: with or without Voikko.
  Check(kPlanted[1]);
  CheckNeutralPhrase();
  if (!text::VoikkoBuilt()) {
    // Snowball splits toimitus' forms over several stems (consonant
    // gradation, no compounds): the Voikko-only promise is not checked,
    // and the test says so (the Swedish and neutral checks above ran).
    GTEST_SKIP() << "built with POLKU_VOIKKO=OFF: the Finnish planted theme "
                    "is not checked (Finnish is stemmed by Snowball)";
  }
  Check(kPlanted[0]);
}

void ThemesPlantedTest::CheckNeutralPhrase() {
  int checked = 0;
  double largest = 0;
  for (const auto& [key, answer] : *answers_) {
    for (const std::string& lemma : kNeutral) {
      double z = 0;
      if (RankOf(answer.neutral, lemma, z) < 0) continue;
      ++checked;
      largest = std::max(largest, std::abs(z));
      EXPECT_LT(std::abs(z), 1.0) << lemma << " at " << key.second
                                  << ", seed " << key.first;
    }
  }
  std::printf("neutral phrase lemmas: %d checked, largest |z| %.3f\n", checked,
              largest);
  // Every touchpoint and seed has the Finnish and Swedish phrases' lemmas
  // in 30 comments or more (the English ones mostly too); without Voikko
  // the Finnish ones are Snowball stems, not these lemmas.
  EXPECT_GE(checked, text::VoikkoBuilt() ? kSeeds * 4 * 3 : kSeeds * 4);
}

}  // namespace
}  // namespace polku::insight
