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

}  // namespace
}  // namespace polku::journey
