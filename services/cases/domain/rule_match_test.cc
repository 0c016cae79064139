#include "services/cases/domain/rule_match.h"

#include "google/protobuf/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

using ::testing::HasSubstr;

v1::StoredEvent Event(const std::string& text) {
  v1::StoredEvent event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        sequence: 7
        tenant: "acme"
        channel: "phone"
        journey: "switching"
        stage: "support"
        customer_hash: "c0ffee"
      )pb" + text,
      &event));
  return event;
}

RuleConditions Detractors() {
  return {.journey = "switching", .max_nps = 6, .max_csat = 2};
}

TEST(RuleMatchTest, ScoreThresholdsMatchWhicheverScoreTheEventHas) {
  RuleConditions rule = Detractors();
  EXPECT_TRUE(Matches(rule, Event("event { touchpoint: 'call' nps: 6 }")));
  EXPECT_TRUE(Matches(rule, Event("event { touchpoint: 'call' nps: 0 }")));
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'call' nps: 7 }")));
  EXPECT_TRUE(Matches(rule, Event("event { touchpoint: 'call' csat: 2 }")));
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'call' csat: 3 }")));
  // A passive on NPS but unhappy on CSAT is followed up.
  EXPECT_TRUE(
      Matches(rule, Event("event { touchpoint: 'call' nps: 8 csat: 1 }")));
  // Unrated touches are not detractors; CES has no threshold here.
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'call' }")));
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'call' ces: 1 }")));
}

TEST(RuleMatchTest, EveryOtherConditionMustHold) {
  RuleConditions rule = Detractors();
  rule.touchpoints = {"call", "chat"};
  rule.stages = {"support"};
  rule.channels = {"phone"};
  rule.attributes = {{"segment", "business"}};
  const std::string scored = "nps: 3 attributes { key: 'segment' value: 'business' }";
  EXPECT_TRUE(Matches(rule, Event("event { touchpoint: 'chat' " + scored + "}")));
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'shop' " + scored + "}")));
  EXPECT_FALSE(Matches(
      rule, Event("event { touchpoint: 'call' nps: 3 attributes { key: "
                  "'segment' value: 'consumer' } }")));
  EXPECT_FALSE(Matches(rule, Event("event { touchpoint: 'call' nps: 3 }")));
  v1::StoredEvent other_stage =
      Event("event { touchpoint: 'call' " + scored + "}");
  other_stage.set_stage("purchase");
  EXPECT_FALSE(Matches(rule, other_stage));
  v1::StoredEvent other_channel = other_stage;
  other_channel.set_stage("support");
  other_channel.set_channel("web");
  EXPECT_FALSE(Matches(rule, other_channel));
  other_channel.set_channel("phone");
  EXPECT_TRUE(Matches(rule, other_channel));
  other_channel.set_journey("home-renovation");
  EXPECT_FALSE(Matches(rule, other_channel));
}

TEST(RuleMatchTest, NoCustomerNoCase) {
  v1::StoredEvent event = Event("event { touchpoint: 'call' nps: 1 }");
  event.clear_customer_hash();
  EXPECT_FALSE(Matches(Detractors(), event));
}

TEST(RuleMatchTest, RuleWithoutThresholdsMatchesUnratedTouches) {
  RuleConditions rule{.journey = "switching", .touchpoints = {"cancel"}};
  EXPECT_TRUE(Matches(rule, Event("event { touchpoint: 'cancel' }")));
}

TEST(RuleMatchTest, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateConditions(Detractors()).ok());
  RuleConditions rule = Detractors();
  rule.max_nps = 11;
  EXPECT_THAT(ValidateConditions(rule).message(),
              HasSubstr("rule.conditions.max_nps"));
  rule = Detractors();
  rule.max_csat = 0;
  EXPECT_THAT(ValidateConditions(rule).message(),
              HasSubstr("rule.conditions.max_csat"));
  rule = Detractors();
  rule.journey.clear();
  EXPECT_THAT(ValidateConditions(rule).message(),
              HasSubstr("rule.conditions.journey"));
}

TEST(RuleMatchTest, ConsentAttribute) {
  EXPECT_TRUE(RefusesContact(Event(
      "event { attributes { key: 'contact_consent' value: 'No' } }")));
  EXPECT_FALSE(RefusesContact(Event(
      "event { attributes { key: 'contact_consent' value: 'yes' } }")));
  EXPECT_FALSE(RefusesContact(Event("event { }")));
}

TEST(RuleMatchTest, PeriodBucketsAreWholePeriodsFloored) {
  absl::Duration day = absl::Hours(24);
  EXPECT_EQ(PeriodBucket(absl::UnixEpoch(), day), 0);
  EXPECT_EQ(PeriodBucket(absl::UnixEpoch() + day - absl::Nanoseconds(1), day),
            0);
  EXPECT_EQ(PeriodBucket(absl::UnixEpoch() + day, day), 1);
  EXPECT_EQ(PeriodBucket(absl::UnixEpoch() - absl::Seconds(1), day), -1);
  EXPECT_EQ(PeriodBucket(absl::FromUnixSeconds(1'700'000'000), day), 19675);
}

TEST(RuleMatchTest, DryRunCountsCasesByTheExactlyOnceKey) {
  DryRunCounter dry_run(Detractors(), absl::Hours(24));
  v1::StoredEvent first = Event("event { touchpoint: 'call' nps: 2 }");
  first.mutable_event()->mutable_occurred_at()->set_seconds(86400 * 10 + 5);
  v1::StoredEvent same_day = first;
  same_day.mutable_event()->mutable_occurred_at()->set_seconds(86400 * 10 + 900);
  v1::StoredEvent next_day = first;
  next_day.mutable_event()->mutable_occurred_at()->set_seconds(86400 * 11 + 5);
  v1::StoredEvent other = first;
  other.set_customer_hash("beef");
  v1::StoredEvent promoter = Event("event { touchpoint: 'call' nps: 10 }");
  for (const auto* e : {&first, &same_day, &next_day, &other, &promoter}) {
    dry_run.Add(*e);
  }
  EXPECT_EQ(dry_run.scanned(), 5);
  EXPECT_EQ(dry_run.matched(), 4);
  EXPECT_EQ(dry_run.cases(), 3);
}

}  // namespace
}  // namespace polku::cases
