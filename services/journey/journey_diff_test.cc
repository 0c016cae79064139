#include "services/journey/journey_diff.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::polku::v1::JourneyDiff;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Journey Parse(const std::string& text) {
  Journey journey;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &journey))
      << text;
  return journey;
}

Journey Base() {
  return Parse(R"pb(
    key: "j"
    name: "J"
    version: 1
    stages { key: "compare" name: "Compare" }
    stages { key: "purchase" name: "Purchase" }
    stages { key: "delivery" name: "Delivery" }
    touchpoints {
      key: "quote"
      name: "Quote"
      stage: "compare"
      channel: "email"
      kind: INTERACTION
      target { csat_top2_box: 0.8 }
    }
    touchpoints {
      key: "order"
      name: "Order"
      stage: "purchase"
      channel: "web"
      kind: INTERACTION
    }
    touchpoints {
      key: "install"
      name: "Install"
      stage: "delivery"
      channel: "field_service"
      kind: INTERACTION
    }
  )pb");
}

// "KIND key old→new" per change, compact enough to compare whole diffs.
std::vector<std::string> Lines(const JourneyDiff& diff) {
  std::vector<std::string> lines;
  for (const auto& change : diff.changes()) {
    std::string line = polku::v1::ChangeKind_Name(change.kind());
    if (!change.key().empty()) line += " " + change.key();
    if (!change.old_value().empty() || !change.new_value().empty()) {
      line += " " + change.old_value() + "→" + change.new_value();
    }
    lines.push_back(line);
  }
  return lines;
}

TEST(DiffJourneysTest, IdenticalVersionsHaveNoChanges) {
  Journey v2 = Base();
  v2.set_version(2);
  JourneyDiff diff = DiffJourneys(Base(), v2);
  // Lines, not the changes themselves: GCC 12 at -O3 warns (-Wrestrict,
  // wrongly) inside GoogleTest's printer for a repeated message field.
  EXPECT_THAT(Lines(diff), IsEmpty());
  EXPECT_EQ(diff.key(), "j");
  EXPECT_EQ(diff.from_version(), 1);
  EXPECT_EQ(diff.to_version(), 2);
}

TEST(DiffJourneysTest, AddedAndRemovedStagesAndTouchpoints) {
  Journey to = Base();
  to.mutable_stages()->DeleteSubrange(2, 1);       // delivery
  to.mutable_touchpoints()->DeleteSubrange(2, 1);  // install
  auto* need = to.mutable_stages()->Add();
  need->set_key("use");
  auto* app = to.add_touchpoints();
  app->set_key("app");
  app->set_stage("use");
  app->set_channel("mobile");
  app->set_kind(polku::v1::INTERACTION);
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)),
              ElementsAre("STAGE_ADDED use", "STAGE_REMOVED delivery",
                          "TOUCHPOINT_ADDED app →use",
                          "TOUCHPOINT_REMOVED install delivery→"));
}

TEST(DiffJourneysTest, RenameThroughReplacesIsOneChange) {
  Journey to = Base();
  to.mutable_touchpoints(0)->set_key("offer");
  to.mutable_touchpoints(0)->set_replaces("quote");
  JourneyDiff diff = DiffJourneys(Base(), to);
  EXPECT_THAT(Lines(diff), ElementsAre("TOUCHPOINT_RENAMED offer quote→offer"));
  EXPECT_EQ(diff.changes(0).description(),
            "touchpoint \"quote\" renamed to \"offer\" (its feedback carries "
            "over)");
}

TEST(DiffJourneysTest, RenameAcrossSeveralVersionsUsesFormerKeys) {
  Journey v3 = Base();
  v3.mutable_touchpoints(0)->set_key("proposal");
  v3.mutable_touchpoints(0)->set_replaces("offer");
  v3.mutable_touchpoints(0)->add_former_keys("quote");
  v3.mutable_touchpoints(0)->add_former_keys("offer");
  EXPECT_THAT(Lines(DiffJourneys(Base(), v3)),
              ElementsAre("TOUCHPOINT_RENAMED proposal quote→proposal"));
  // Backwards (newer → older) it is the same rename the other way.
  EXPECT_THAT(Lines(DiffJourneys(v3, Base())),
              ElementsAre("TOUCHPOINT_RENAMED quote proposal→quote"));
}

TEST(DiffJourneysTest, WithoutReplacesARenameIsRemovalPlusAddition) {
  Journey to = Base();
  to.mutable_touchpoints(0)->set_key("offer");
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)),
              ElementsAre("TOUCHPOINT_ADDED offer →compare",
                          "TOUCHPOINT_REMOVED quote compare→"));
}

TEST(DiffJourneysTest, MovedBetweenStagesChannelKindAndTarget) {
  Journey to = Base();
  auto* quote = to.mutable_touchpoints(0);
  quote->set_stage("purchase");
  quote->set_channel("phone");
  quote->set_kind(polku::v1::OUTCOME);
  quote->mutable_target()->set_csat_top2_box(0.85);
  quote->mutable_target()->set_nps(10);
  quote->set_owner_team("sales");
  JourneyDiff diff = DiffJourneys(Base(), to);
  EXPECT_THAT(Lines(diff),
              ElementsAre("TOUCHPOINT_MOVED quote compare→purchase",
                          "TOUCHPOINT_CHANNEL_CHANGED quote email→phone",
                          "TOUCHPOINT_KIND_CHANGED quote INTERACTION→OUTCOME",
                          "TARGET_CHANGED quote", "TOUCHPOINT_EDITED quote"));
  const auto& target = diff.changes(3);
  EXPECT_DOUBLE_EQ(target.old_target().csat_top2_box(), 0.8);
  EXPECT_FALSE(target.old_target().has_nps());
  EXPECT_DOUBLE_EQ(target.new_target().csat_top2_box(), 0.85);
  EXPECT_DOUBLE_EQ(target.new_target().nps(), 10);
  EXPECT_EQ(target.description(),
            "touchpoint \"quote\" target changed from CSAT top-2-box 0.8 to "
            "CSAT top-2-box 0.85, NPS 10");
}

TEST(DiffJourneysTest, RenamedAndMovedAtOnce) {
  Journey to = Base();
  to.mutable_touchpoints(1)->set_key("checkout");
  to.mutable_touchpoints(1)->set_replaces("order");
  to.mutable_touchpoints(1)->set_stage("delivery");
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)),
              ElementsAre("TOUCHPOINT_RENAMED checkout order→checkout",
                          "TOUCHPOINT_MOVED checkout purchase→delivery"));
}

TEST(DiffJourneysTest, StageOrderAndStageEdits) {
  Journey to = Base();
  to.mutable_stages()->SwapElements(0, 1);
  to.mutable_stages(2)->set_customer_goal("On time");
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)),
              ElementsAre("STAGE_EDITED delivery",
                          "STAGES_REORDERED compare,purchase,delivery→"
                          "purchase,compare,delivery"));
}

TEST(DiffJourneysTest, JourneyLevelEdits) {
  Journey to = Base();
  to.mutable_outcomes()->set_conversion_stage("purchase");
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)), ElementsAre("JOURNEY_EDITED"));
}

// A key re-added while another touchpoint claims it as history: the key
// match wins, so the re-added one is not taken for a rename.
TEST(DiffJourneysTest, KeptKeyIsNotClaimedByAReplaces) {
  Journey to = Base();
  auto* copy = to.add_touchpoints();
  *copy = to.touchpoints(0);
  copy->set_key("quote_v2");
  copy->set_replaces("quote");
  EXPECT_THAT(Lines(DiffJourneys(Base(), to)),
              ElementsAre("TOUCHPOINT_ADDED quote_v2 →compare"));
}

}  // namespace
}  // namespace polku::journey
