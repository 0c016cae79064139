// The example journeys under examples/journeys/ are loaded by the up command;
// a typo there would only show when the demo fails, so they are checked here.
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/journey/journey_templates.h"
#include "services/journey/journey_validation.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Pair;

Journey LoadExample(const std::string& file) {
  const std::string path = std::string(POLKU_EXAMPLE_JOURNEYS_DIR) + "/" + file;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  Journey journey;
  // Strict: an unknown or misspelt field fails, as it would in the importer.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text.str(),
                                                            &journey, options);
  EXPECT_TRUE(status.ok()) << path << ": " << status.ToString();
  return journey;
}

// touchpoint key → "stage/channel/kind".
std::map<std::string, std::string> Placement(const Journey& journey) {
  std::map<std::string, std::string> placement;
  for (const auto& touchpoint : journey.touchpoints()) {
    placement[touchpoint.key()] =
        touchpoint.stage() + "/" + touchpoint.channel() + "/" +
        polku::v1::TouchpointKind_Name(touchpoint.kind());
  }
  return placement;
}

void ExpectDocumented(const Journey& journey) {
  for (const auto& stage : journey.stages()) {
    EXPECT_FALSE(stage.name().empty()) << stage.key();
    EXPECT_FALSE(stage.customer_goal().empty()) << stage.key();
    EXPECT_FALSE(stage.customer_tasks().empty()) << stage.key();
  }
  for (const auto& touchpoint : journey.touchpoints()) {
    EXPECT_FALSE(touchpoint.name().empty()) << touchpoint.key();
    EXPECT_FALSE(touchpoint.owner_team().empty()) << touchpoint.key();
    EXPECT_FALSE(touchpoint.description().empty()) << touchpoint.key();
    EXPECT_TRUE(touchpoint.has_target()) << touchpoint.key();
  }
}

TEST(ExampleJourneysTest, SwitchingMobileOperatorIsValid) {
  Journey journey = LoadExample("switching-mobile-operator.json");
  EXPECT_EQ(journey.key(), "switching-mobile-operator");
  EXPECT_TRUE(ValidateJourney(journey).ok()) << ValidateJourney(journey);
  ExpectDocumented(journey);
  // Seed 002: six touches in two days, then the relationship outcome.
  EXPECT_THAT(
      Placement(journey),
      IsSupersetOf({Pair("bus_stop_ad", "awareness/outdoor/INTERACTION"),
                    Pair("search_ad", "research/web/INTERACTION"),
                    Pair("website", "research/web/INTERACTION"),
                    Pair("shop_in_shop_sales", "purchase/shop/INTERACTION"),
                    Pair("tv_ad", "awareness/tv/INTERACTION"),
                    Pair("confirmation_call", "confirmation/phone/INTERACTION"),
                    Pair("welcome_email", "onboarding/email/INTERACTION"),
                    Pair("relationship_survey", "use/email/OUTCOME")}));
}

TEST(ExampleJourneysTest, HomeRenovationIsValid) {
  Journey journey = LoadExample("home-renovation.json");
  EXPECT_EQ(journey.key(), "home-renovation");
  EXPECT_TRUE(ValidateJourney(journey).ok()) << ValidateJourney(journey);
  ExpectDocumented(journey);
  // Seed 003's stages, in order.
  std::vector<std::string> stages;
  for (const auto& stage : journey.stages()) stages.push_back(stage.key());
  EXPECT_THAT(stages,
              ::testing::ElementsAre("need", "compare", "decide", "purchase",
                                     "delivery", "support", "invoice"));
  EXPECT_THAT(
      Placement(journey),
      IsSupersetOf(
          {Pair("painter_arrival", "delivery/field_service/INTERACTION"),
           Pair("site_cleanup", "delivery/field_service/INTERACTION"),
           Pair("complaint_call", "support/phone/INTERACTION"),
           Pair("renovation_survey", "invoice/email/OUTCOME")}));
}

// Seed 003's eight stages, for a new tenant to start from.
TEST(ExampleJourneysTest, GenericCustomerJourneyIsValid) {
  Journey journey = LoadExample("generic-customer-journey.json");
  EXPECT_EQ(journey.key(), "generic-customer-journey");
  EXPECT_TRUE(ValidateJourney(journey).ok()) << ValidateJourney(journey);
  ExpectDocumented(journey);
  std::vector<std::string> stages;
  for (const auto& stage : journey.stages()) stages.push_back(stage.key());
  EXPECT_THAT(stages,
              ElementsAre("need", "research", "compare", "decide", "purchase",
                          "delivery", "use", "support-or-leave"));
  EXPECT_EQ(journey.outcomes().relationship_nps_touchpoint(),
            "relationship_survey");
  EXPECT_EQ(journey.outcomes().conversion_stage(), "purchase");
}

// Every shipped file is a built-in template, identical to the file.
TEST(ExampleJourneysTest, EveryExampleIsATemplate) {
  EXPECT_THAT(JourneyTemplateNames(),
              ElementsAre("generic-customer-journey", "home-renovation",
                          "switching-mobile-operator"));
  for (const std::string& name : JourneyTemplateNames()) {
    absl::StatusOr<Journey> compiled = JourneyTemplate(name);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        *compiled, LoadExample(name + ".json")))
        << name;
  }
  EXPECT_THAT(
      JourneyTemplate("nope").status().message(),
      HasSubstr("templates: generic-customer-journey, home-renovation"));
}

}  // namespace
}  // namespace polku::journey
