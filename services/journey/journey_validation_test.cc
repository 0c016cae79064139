#include "services/journey/journey_validation.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/journey/channels.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small valid journey that each test breaks in one place.
Journey ValidJourney() {
  Journey journey;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        key: "home-renovation"
        name: "Home renovation"
        stages { key: "need" name: "Need" }
        stages { key: "compare" name: "Comparing offers" }
        touchpoints {
          key: "web_search"
          name: "Web search"
          stage: "need"
          channel: "web"
          kind: INTERACTION
          target { csat_top2_box: 0.8 nps: 20 ces_mean: 5.5 }
        }
        touchpoints {
          key: "quote_request"
          name: "Quote request"
          stage: "compare"
          channel: "email"
          kind: INTERACTION
        }
        touchpoints {
          key: "overall"
          name: "Overall satisfaction"
          stage: "compare"
          channel: "email"
          kind: OUTCOME
        }
      )pb",
      &journey);
  return journey;
}

// The INVALID_ARGUMENT message for `journey`, or "OK".
std::string Problem(const Journey& journey) {
  absl::Status status = ValidateJourney(journey);
  if (status.ok()) return "OK";
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(ValidateJourneyTest, AcceptsValidJourney) {
  EXPECT_EQ(Problem(ValidJourney()), "OK");
}

TEST(ValidateJourneyTest, IgnoresOutputOnlyFields) {
  Journey journey = ValidJourney();
  journey.set_version(-7);
  journey.set_state(polku::v1::PUBLISHED);
  journey.mutable_publish_time()->set_seconds(-1);
  EXPECT_EQ(Problem(journey), "OK");
}

TEST(ValidateKeyTest, AcceptsLowercaseDigitsDashUnderscore) {
  EXPECT_TRUE(IsValidKey("a"));
  EXPECT_TRUE(IsValidKey("switching-mobile-operator"));
  EXPECT_TRUE(IsValidKey("shop_in_shop_sales2"));
  EXPECT_TRUE(IsValidKey(std::string(64, 'x')));
}

TEST(ValidateKeyTest, RejectsEverythingElse) {
  EXPECT_FALSE(IsValidKey(""));
  EXPECT_FALSE(IsValidKey(std::string(65, 'x')));
  EXPECT_FALSE(IsValidKey("Shop"));
  EXPECT_FALSE(IsValidKey("web search"));
  EXPECT_FALSE(IsValidKey("päivä"));
  EXPECT_FALSE(IsValidKey("a.b"));
}

TEST(ValidateJourneyTest, JourneyKeyRequiredAndWellFormed) {
  Journey journey = ValidJourney();
  journey.clear_key();
  EXPECT_EQ(Problem(journey), "journey.key: required");
  journey.set_key("Home Renovation");
  EXPECT_THAT(
      Problem(journey),
      StartsWith("journey.key: \"Home Renovation\" is not a valid key"));
}

TEST(ValidateJourneyTest, NameRequired) {
  Journey journey = ValidJourney();
  journey.set_name("  ");
  EXPECT_EQ(Problem(journey), "journey.name: required");
}

TEST(ValidateJourneyTest, AtLeastOneStage) {
  Journey journey = ValidJourney();
  journey.clear_stages();
  journey.clear_touchpoints();
  EXPECT_EQ(Problem(journey),
            "journey.stages: a journey needs at least one stage");
}

TEST(ValidateJourneyTest, StageKeyWellFormed) {
  Journey journey = ValidJourney();
  journey.mutable_stages(1)->set_key("");
  EXPECT_EQ(Problem(journey), "journey.stages[1].key: required");
  journey.mutable_stages(1)->set_key("Compare");
  EXPECT_THAT(Problem(journey),
              StartsWith("journey.stages[1].key: \"Compare\""));
}

TEST(ValidateJourneyTest, DuplicateStageKey) {
  Journey journey = ValidJourney();
  journey.add_stages()->set_key("need");
  EXPECT_EQ(Problem(journey),
            "journey.stages[2].key: duplicate stage key \"need\" (also "
            "journey.stages[0])");
}

TEST(ValidateJourneyTest, TouchpointKeyWellFormed) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(2)->set_key("Overall!");
  EXPECT_THAT(Problem(journey),
              StartsWith("journey.touchpoints[2].key: \"Overall!\""));
}

TEST(ValidateJourneyTest, DuplicateTouchpointKey) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(2)->set_key("web_search");
  EXPECT_EQ(Problem(journey),
            "journey.touchpoints[2].key: duplicate touchpoint key "
            "\"web_search\" (also journey.touchpoints[0])");
}

TEST(ValidateJourneyTest, TouchpointStageMustExist) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(2)->set_stage("");
  EXPECT_EQ(Problem(journey), "journey.touchpoints[2].stage: required");
  journey.mutable_touchpoints(2)->set_stage("buy");
  EXPECT_EQ(Problem(journey),
            "journey.touchpoints[2].stage: unknown stage \"buy\" (stages: "
            "need, compare)");
}

TEST(ValidateJourneyTest, TouchpointChannelMustBeKnown) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(1)->set_channel("");
  EXPECT_EQ(Problem(journey), "journey.touchpoints[1].channel: required");
  journey.mutable_touchpoints(1)->set_channel("fax");
  EXPECT_THAT(Problem(journey),
              StartsWith("journey.touchpoints[1].channel: unknown channel "
                         "\"fax\""));
}

TEST(ValidateJourneyTest, ChannelsComeFromTheGivenCatalogue) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(1)->set_channel("fax");
  EXPECT_TRUE(ValidateJourney(journey, [](absl::string_view channel) {
                return channel == "fax" || channel == "web" ||
                       channel == "email";
              }).ok());
}

TEST(ValidateJourneyTest, TouchpointKindRequired) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(0)->set_kind(
      polku::v1::TOUCHPOINT_KIND_UNSPECIFIED);
  EXPECT_EQ(Problem(journey),
            "journey.touchpoints[0].kind: required: INTERACTION or OUTCOME");
  journey.mutable_touchpoints(0)->set_kind(
      static_cast<polku::v1::TouchpointKind>(9));
  EXPECT_EQ(Problem(journey),
            "journey.touchpoints[0].kind: must be INTERACTION or OUTCOME");
}

TEST(ValidateJourneyTest, TargetsInRange) {
  struct Case {
    void (*set)(polku::v1::Target&);
    const char* problem;
  };
  const Case cases[] = {
      {[](polku::v1::Target& t) { t.set_csat_top2_box(1.2); },
       "journey.touchpoints[0].target.csat_top2_box: 1.2 is outside 0–1"},
      {[](polku::v1::Target& t) { t.set_csat_top2_box(-0.1); },
       "journey.touchpoints[0].target.csat_top2_box: -0.1 is outside 0–1"},
      {[](polku::v1::Target& t) { t.set_nps(101); },
       "journey.touchpoints[0].target.nps: 101 is outside -100–100"},
      {[](polku::v1::Target& t) { t.set_ces_mean(0.5); },
       "journey.touchpoints[0].target.ces_mean: 0.5 is outside 1–7"},
      {[](polku::v1::Target& t) { t.set_ces_mean(std::nan("")); },
       "journey.touchpoints[0].target.ces_mean: nan is outside 1–7"},
  };
  for (const Case& c : cases) {
    Journey journey = ValidJourney();
    c.set(*journey.mutable_touchpoints(0)->mutable_target());
    EXPECT_EQ(Problem(journey), c.problem);
  }
}

TEST(ValidateJourneyTest, TargetBoundsAreInclusive) {
  Journey journey = ValidJourney();
  polku::v1::Target& target = *journey.mutable_touchpoints(0)->mutable_target();
  target.set_csat_top2_box(1);
  target.set_nps(-100);
  target.set_ces_mean(7);
  EXPECT_EQ(Problem(journey), "OK");
}

TEST(ChannelsTest, CatalogueHasTheStoriesChannels) {
  for (const char* key : {"shop", "phone", "web", "email", "mobile", "chat",
                          "direct_mail", "field_service", "tv", "outdoor"}) {
    EXPECT_TRUE(IsKnownChannel(key)) << key;
  }
  EXPECT_FALSE(IsKnownChannel("fax"));
  for (const polku::v1::Channel& channel : BuiltinChannels()) {
    EXPECT_FALSE(channel.display_name().empty()) << channel.key();
  }
}

TEST(ValidateJourneyTest, OutcomeDefinitionsNameTheirTouchpointAndStage) {
  Journey journey = ValidJourney();
  journey.mutable_outcomes()->set_relationship_nps_touchpoint("overall");
  journey.mutable_outcomes()->set_overall_satisfaction_touchpoint("overall");
  journey.mutable_outcomes()->set_conversion_stage("compare");
  EXPECT_EQ(Problem(journey), "OK");

  Journey missing = journey;
  missing.mutable_outcomes()->set_relationship_nps_touchpoint("survey");
  EXPECT_EQ(Problem(missing),
            "journey.outcomes.relationship_nps_touchpoint: outcome touchpoint "
            "\"survey\" is not a touchpoint of this map");

  Journey interaction = journey;
  interaction.mutable_outcomes()->set_overall_satisfaction_touchpoint(
      "web_search");
  EXPECT_THAT(Problem(interaction),
              StartsWith("journey.outcomes.overall_satisfaction_touchpoint: "
                         "touchpoint \"web_search\" (journey.touchpoints[0]) "
                         "must be of kind OUTCOME"));

  Journey stage = journey;
  stage.mutable_outcomes()->set_conversion_stage("buy");
  EXPECT_EQ(Problem(stage),
            "journey.outcomes.conversion_stage: unknown stage \"buy\"");

  // Removing the outcome touchpoint while the definition points at it.
  Journey removed = journey;
  removed.mutable_touchpoints()->RemoveLast();
  EXPECT_THAT(Problem(removed),
              HasSubstr("outcome touchpoint \"overall\" is not a touchpoint"));
}

TEST(ValidateJourneyTest, ReplacesNamesAKeyTheMapNoLongerHas) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(1)->set_replaces("quote_form");
  EXPECT_EQ(Problem(journey), "OK");

  Journey self = ValidJourney();
  self.mutable_touchpoints(1)->set_replaces("web_search");
  EXPECT_THAT(Problem(self),
              StartsWith("journey.touchpoints[1].replaces: \"web_search\" is "
                         "still a touchpoint of this map "
                         "(journey.touchpoints[0])"));

  Journey twice = journey;
  twice.mutable_touchpoints(2)->set_replaces("quote_form");
  EXPECT_THAT(Problem(twice),
              StartsWith("journey.touchpoints[2].replaces: \"quote_form\" is "
                         "already replaced by journey.touchpoints[1]"));

  Journey bad = ValidJourney();
  bad.mutable_touchpoints(0)->set_replaces("Old Key");
  EXPECT_THAT(Problem(bad), StartsWith("journey.touchpoints[0].replaces: "
                                       "\"Old Key\" is not a valid key"));
}

TEST(ValidateJourneyTest, TenantChannelsComeFromTheLookup) {
  Journey journey = ValidJourney();
  journey.mutable_touchpoints(0)->set_channel("kiosk");
  EXPECT_THAT(Problem(journey), HasSubstr("unknown channel \"kiosk\""));
  EXPECT_TRUE(ValidateJourney(journey, [](absl::string_view key) {
                return key == "kiosk" || IsKnownChannel(key);
              }).ok());
}

// Version 1 of ValidJourney() as PrepareVersion made it.
Journey FirstVersion() {
  absl::StatusOr<Journey> v1 = PrepareVersion(ValidJourney(), nullptr, false);
  EXPECT_TRUE(v1.ok()) << v1.status();
  Journey version = *v1;
  version.set_version(1);
  return version;
}

TEST(PrepareVersionTest, FirstVersionHasNoHistoryToCheck) {
  Journey draft = ValidJourney();
  draft.mutable_touchpoints(1)->set_replaces("quote_form");
  absl::StatusOr<Journey> v1 = PrepareVersion(draft, nullptr, false);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_THAT(v1->touchpoints(1).former_keys(), ElementsAre("quote_form"));
  EXPECT_TRUE(v1->touchpoints(0).former_keys().empty());
}

TEST(PrepareVersionTest, RenameChainsCarryAcrossVersions) {
  const Journey v1 = FirstVersion();
  Journey draft = v1;
  draft.mutable_touchpoints(1)->set_key("quote_form");
  draft.mutable_touchpoints(1)->set_replaces("quote_request");
  absl::StatusOr<Journey> v2 = PrepareVersion(draft, &v1, false);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_THAT(v2->touchpoints(1).former_keys(), ElementsAre("quote_request"));
  Journey v2_published = *v2;
  v2_published.set_version(2);

  // Copied forward unchanged: the stale `replaces` is history, not an error.
  Journey same = v2_published;
  same.mutable_touchpoints(0)->set_name("Search");
  absl::StatusOr<Journey> v3 = PrepareVersion(same, &v2_published, false);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_THAT(v3->touchpoints(1).former_keys(), ElementsAre("quote_request"));

  // A second rename extends the chain, oldest first.
  Journey again = v2_published;
  again.mutable_touchpoints(1)->set_key("offer_request");
  again.mutable_touchpoints(1)->set_replaces("quote_form");
  absl::StatusOr<Journey> v3b = PrepareVersion(again, &v2_published, false);
  ASSERT_TRUE(v3b.ok()) << v3b.status();
  EXPECT_THAT(v3b->touchpoints(1).former_keys(),
              ElementsAre("quote_request", "quote_form"));
}

TEST(PrepareVersionTest, ReplacingAnUnknownKeyIsRefused) {
  const Journey v1 = FirstVersion();
  Journey draft = v1;
  draft.mutable_touchpoints(1)->set_replaces("quote_typo");
  absl::StatusOr<Journey> v2 = PrepareVersion(draft, &v1, false);
  EXPECT_EQ(v2.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v2.status().message(),
            "journey.touchpoints[1].replaces: version 1 has no touchpoint "
            "\"quote_typo\" for \"quote_request\" to replace");
}

TEST(PrepareVersionTest, RemovalWithoutSuccessorNeedsAllowRemovals) {
  const Journey v1 = FirstVersion();
  Journey draft = v1;
  // A rename without `replaces` is a removal plus an addition.
  draft.mutable_touchpoints(1)->set_key("quote_form");
  absl::StatusOr<Journey> refused = PrepareVersion(draft, &v1, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("drops touchpoint(s) quote_request of version 1 "
                        "without a successor"));
  absl::StatusOr<Journey> allowed = PrepareVersion(draft, &v1, true);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->touchpoints(1).former_keys().empty());
}

TEST(PrepareVersionTest, FormerKeysInTheDraftAreIgnored) {
  const Journey v1 = FirstVersion();
  Journey draft = v1;
  draft.mutable_touchpoints(0)->add_former_keys("made_up");
  draft.set_name("Renamed");
  absl::StatusOr<Journey> v2 = PrepareVersion(draft, &v1, false);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_TRUE(v2->touchpoints(0).former_keys().empty());
}

}  // namespace
}  // namespace polku::journey
