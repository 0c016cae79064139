#include "tools/simulator/planted.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lib/stats/significance.h"
#include "tools/simulator/simulator.h"

namespace polku::sim {
namespace {

using ::testing::HasSubstr;

// A purchase stage served by two channels, so one can be worse than the other.
constexpr char kJourney[] = R"({
  "key": "switching", "name": "Switching mobile operator", "state": "PUBLISHED", "version": 1,
  "stages": [{"key": "research"}, {"key": "purchase"}],
  "touchpoints": [
    {"key": "web_site", "stage": "research", "channel": "web", "kind": "INTERACTION"},
    {"key": "shop_in_shop_sales", "stage": "purchase", "channel": "shop", "kind": "INTERACTION"},
    {"key": "confirmation_call", "stage": "purchase", "channel": "phone", "kind": "INTERACTION"}
  ]})";

v1::Journey Journey() {
  v1::Journey journey;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(kJourney, &journey).ok());
  return journey;
}

Options BaseOptions() {
  Options options;
  options.seed = 11;
  options.customers = 3000;
  options.first_day = absl::CivilDay(2025, 3, 1);
  options.days = 28;
  options.channels = {"web", "shop", "phone"};
  // Equal, middling quality everywhere: only what is planted differs.
  options.quality = {{"web_site", 0.2}, {"shop_in_shop_sales", 0.2}, {"confirmation_call", 0.2}};
  return options;
}

// CSAT top-2-box of `touchpoint`'s events, split at `day`.
struct Split {
  stats::Proportion before, after;
};
Split CsatSplit(const Simulation& sim, const std::string& channel,
                const std::string& touchpoint, absl::CivilDay day) {
  Split split;
  const absl::Time boundary = absl::FromCivil(day, absl::UTCTimeZone());
  for (const v1::TouchpointEvent& event : sim.events.at(channel)) {
    if (event.touchpoint() != touchpoint || !event.has_csat()) continue;
    stats::Proportion& side =
        absl::FromUnixSeconds(event.occurred_at().seconds()) < boundary ? split.before
                                                                          : split.after;
    ++side.n;
    if (event.csat() >= 4) ++side.successes;
  }
  return split;
}

stats::Proportion CsatOfChannel(const Simulation& sim, const std::string& channel) {
  stats::Proportion proportion;
  for (const v1::TouchpointEvent& event : sim.events.at(channel)) {
    if (!event.has_csat()) continue;
    ++proportion.n;
    if (event.csat() >= 4) ++proportion.successes;
  }
  return proportion;
}

TEST(PlantedTruths, ParsesAndRejectsSpecsNamingTheProblem) {
  PlantedTruths truths;
  ASSERT_TRUE(ParseChange("web_site:2025-03-15:-0.9", truths).ok());
  ASSERT_EQ(truths.changes.size(), 1u);
  EXPECT_EQ(truths.changes[0].touchpoint, "web_site");
  EXPECT_EQ(truths.changes[0].from, absl::CivilDay(2025, 3, 15));
  EXPECT_DOUBLE_EQ(truths.changes[0].quality_shift, -0.9);
  ASSERT_TRUE(ParseInconsistency("switching/purchase/phone:-0.8", truths).ok());
  EXPECT_EQ(truths.inconsistencies[0].channel, "phone");

  EXPECT_THAT(ParseChange("web_site:15.3.2025:-0.9", truths).message(),
              HasSubstr("the date must be YYYY-MM-DD"));
  EXPECT_THAT(ParseChange("web_site:2025-03-15:big", truths).message(),
              HasSubstr("quality shift must be a number"));
  EXPECT_THAT(ParseChange("web_site", truths).message(), HasSubstr("TOUCHPOINT:YYYY-MM-DD:SHIFT"));
  EXPECT_THAT(ParseInconsistency("switching/purchase:-0.8", truths).message(),
              HasSubstr("JOURNEY/STAGE/CHANNEL:SHIFT"));
  EXPECT_EQ(truths.changes.size(), 1u);
}

TEST(PlantedTruths, UnknownTargetsAreRefused) {
  Options options = BaseOptions();
  ASSERT_TRUE(ParseChange("no_such_touchpoint:2025-03-15:-0.9", options.planted).ok());
  auto sim = Simulate({Journey()}, options);
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(sim.status().message(), HasSubstr("no_such_touchpoint"));

  Options single_channel_stage = BaseOptions();
  ASSERT_TRUE(ParseInconsistency("switching/research/web:-0.8", single_channel_stage.planted).ok());
  auto refused = Simulate({Journey()}, single_channel_stage);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("at least one other channel"));
}

TEST(PlantedTruths, APlantedChangeShiftsScoresFromItsDayOnOnly) {
  Options options = BaseOptions();
  ASSERT_TRUE(ParseChange("web_site:2025-03-15:-0.9", options.planted).ok());
  auto sim = Simulate({Journey()}, options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  Split planted = CsatSplit(*sim, "web", "web_site", absl::CivilDay(2025, 3, 15));
  ASSERT_GT(planted.before.n, 200);
  ASSERT_GT(planted.after.n, 200);
  stats::TestResult change = stats::TwoProportionZTest(planted.before, planted.after);
  EXPECT_LT(change.effect, -0.15);
  EXPECT_LT(change.p_value, 1e-6);

  // The untouched touchpoint of the same simulation shows no such change.
  Split control = CsatSplit(*sim, "shop", "shop_in_shop_sales", absl::CivilDay(2025, 3, 15));
  EXPECT_GT(stats::TwoProportionZTest(control.before, control.after).p_value, 0.001);
}

TEST(PlantedTruths, APlantedInconsistencyMakesOneChannelWorseInItsStage) {
  Options options = BaseOptions();
  ASSERT_TRUE(ParseInconsistency("switching/purchase/phone:-0.8", options.planted).ok());
  auto sim = Simulate({Journey()}, options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  stats::TestResult gap =
      stats::TwoProportionZTest(CsatOfChannel(*sim, "shop"), CsatOfChannel(*sim, "phone"));
  EXPECT_LT(gap.effect, -0.15);
  EXPECT_LT(gap.p_value, 1e-6);
}

TEST(PlantedTruths, NothingPlantedMeansNoDifference) {
  for (uint64_t seed : {1, 2, 3}) {
    Options options = BaseOptions();
    options.seed = seed;
    auto sim = Simulate({Journey()}, options);
    ASSERT_TRUE(sim.ok());
    // Equal quality: the two purchase channels differ only by noise.
    EXPECT_GT(stats::TwoProportionZTest(CsatOfChannel(*sim, "shop"), CsatOfChannel(*sim, "phone"))
                  .p_value,
              0.001)
        << "seed " << seed;
  }
}

TEST(PlantedTruths, WrittenAsJson) {
  PlantedTruths truths;
  ASSERT_TRUE(ParseChange("web_site:2025-03-15:-0.9", truths).ok());
  ASSERT_TRUE(ParseInconsistency("switching/purchase/phone:-0.8", truths).ok());
  ASSERT_TRUE(ParseDriver("web_site:1.5", truths).ok());
  EXPECT_EQ(TruthsToJson(truths),
            "{\n"
            "  \"changes\": [\n"
            "    {\"touchpoint\": \"web_site\", \"from\": \"2025-03-15\", \"quality_shift\": -0.9}\n"
            "  ],\n"
            "  \"inconsistencies\": [\n"
            "    {\"journey\": \"switching\", \"stage\": \"purchase\", \"channel\": \"phone\", "
            "\"quality_shift\": -0.8}\n"
            "  ],\n"
            "  \"drivers\": [\n"
            "    {\"touchpoint\": \"web_site\", \"weight\": 1.5}\n"
            "  ]\n"
            "}\n");
  EXPECT_EQ(TruthsToJson(PlantedTruths{}),
            "{\n  \"changes\": [],\n  \"inconsistencies\": [],\n  \"drivers\": []\n}\n");
  EXPECT_THAT(ParseDriver("web_site", truths).message(), ::testing::HasSubstr("TOUCHPOINT:WEIGHT"));
  EXPECT_THAT(ParseDriver("web_site:9", truths).message(), ::testing::HasSubstr("[0, 5]"));
}

}  // namespace
}  // namespace polku::sim
