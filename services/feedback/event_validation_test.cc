#include "services/feedback/event_validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {

// Readable failures.
void PrintTo(const EventRejection& rejection, std::ostream* os) {
  *os << "{field: \"" << rejection.field << "\", reason: \"" << rejection.reason
      << "\"}";
}

namespace {

using polku::v1::TouchpointEvent;

absl::Time At(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

void SetTime(TouchpointEvent& event, absl::Time t) {
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(t));
  event.mutable_occurred_at()->set_nanos(0);
}

class EventValidationTest : public ::testing::Test {
 protected:
  EventValidationTest() {
    index_.Reset(testing::DemoJourneys().journeys());
    event_.set_event_id("pos-1234-1");
    event_.set_touchpoint("shop_in_shop_sales");
    event_.set_customer("customer-42");
    SetTime(event_, now_ - absl::Hours(1));
    event_.set_csat(4);
  }

  EventValidation Validate(const std::string& channel = "shop") {
    return ValidateEvent(event_, {.tenant = "demo", .channel = channel},
                         *index_.Current(), now_);
  }

  // The rejection, or a rejection with field "<accepted>" to fail clearly.
  EventRejection Rejection(const std::string& channel = "shop") {
    EventValidation v = Validate(channel);
    if (auto* rejection = std::get_if<EventRejection>(&v)) return *rejection;
    return {"<accepted>", ""};
  }

  bool Accepted() {
    return std::holds_alternative<ResolvedTouchpoint>(Validate());
  }

  TouchpointIndex index_;
  const absl::Time now_ = At(2024, 5, 1, 12, 0, 0);
  TouchpointEvent event_;
};

TEST_F(EventValidationTest, AValidEventResolvesItsTouchpoint) {
  EventValidation v = Validate();
  ASSERT_TRUE(std::holds_alternative<ResolvedTouchpoint>(v));
  const auto& touchpoint = std::get<ResolvedTouchpoint>(v);
  EXPECT_EQ(touchpoint.journey, "switching");
  EXPECT_EQ(touchpoint.journey_version, 2);
  EXPECT_EQ(touchpoint.stage, "purchase");
  EXPECT_EQ(touchpoint.channel, "shop");
}

TEST_F(EventValidationTest, EventIdIsRequired) {
  event_.clear_event_id();
  EXPECT_EQ(Rejection(), (EventRejection{"event_id", "event_id is required"}));
}

TEST_F(EventValidationTest, EventIdIsAtMost128Bytes) {
  event_.set_event_id(std::string(128, 'e'));
  EXPECT_TRUE(Accepted());
  event_.set_event_id(std::string(129, 'e'));
  EXPECT_EQ(Rejection(),
            (EventRejection{"event_id", "event_id is 129 bytes; at most 128"}));
}

TEST_F(EventValidationTest, EventIdHasNoControlCharacters) {
  const EventRejection expected{"event_id",
                                "event_id must not contain control characters"};
  event_.set_event_id("pos\n1");
  EXPECT_EQ(Rejection(), expected);
  event_.set_event_id(
      "pos\x7f"
      "1");
  EXPECT_EQ(Rejection(), expected);
  event_.set_event_id(
      "pos\u0085"
      "1");  // NEL, a C1 control
  EXPECT_EQ(Rejection(), expected);
  event_.set_event_id("kassa-ÄÖÅ-1");  // letters beyond ASCII are fine
  EXPECT_TRUE(Accepted());
}

TEST_F(EventValidationTest, TouchpointIsRequired) {
  event_.clear_touchpoint();
  EXPECT_EQ(Rejection(),
            (EventRejection{"touchpoint", "touchpoint is required"}));
}

TEST_F(EventValidationTest, TouchpointMustBePublished) {
  event_.set_touchpoint("bus_stop_ad");
  EXPECT_EQ(Rejection(),
            (EventRejection{"touchpoint", "unknown touchpoint 'bus_stop_ad'"}));
}

TEST_F(EventValidationTest, AnotherTenantsTouchpointIsUnknown) {
  event_.set_touchpoint("secret_touchpoint");
  EXPECT_EQ(
      Rejection(),
      (EventRejection{"touchpoint", "unknown touchpoint 'secret_touchpoint'"}));
}

TEST_F(EventValidationTest, ALongUnknownTouchpointIsQuotedShort) {
  event_.set_touchpoint(std::string(100, 'x'));
  EXPECT_EQ(Rejection().reason,
            absl::StrCat("unknown touchpoint '", std::string(64, 'x'), "…'"));
}

TEST_F(EventValidationTest, TouchpointMustBelongToTheCallersChannel) {
  event_.set_touchpoint("confirmation_call");
  EXPECT_EQ(Rejection("shop"),
            (EventRejection{"touchpoint",
                            "touchpoint 'confirmation_call' belongs to channel "
                            "'phone', not 'shop'"}));
  EXPECT_TRUE(std::holds_alternative<ResolvedTouchpoint>(Validate("phone")));
}

TEST_F(EventValidationTest, ASharedTouchpointKeyNeedsTheJourney) {
  event_.set_touchpoint("feedback_survey");
  EXPECT_EQ(Rejection(),
            (EventRejection{"journey",
                            "touchpoint 'feedback_survey' is used by journeys "
                            "'renovation', 'switching'; name one in journey"}));

  event_.set_journey("renovation");
  EventValidation v = Validate();
  ASSERT_TRUE(std::holds_alternative<ResolvedTouchpoint>(v));
  EXPECT_EQ(std::get<ResolvedTouchpoint>(v).journey, "renovation");
  EXPECT_EQ(std::get<ResolvedTouchpoint>(v).stage, "support");
}

TEST_F(EventValidationTest, ANamedJourneyMustExist) {
  event_.set_journey("moving-house");
  EXPECT_EQ(Rejection(),
            (EventRejection{"journey", "unknown journey 'moving-house'"}));
}

TEST_F(EventValidationTest, ANamedJourneyMustHoldTheTouchpoint) {
  event_.set_journey("renovation");
  EXPECT_EQ(Rejection(),
            (EventRejection{"touchpoint",
                            "touchpoint 'shop_in_shop_sales' is not in journey "
                            "'renovation'"}));
}

TEST_F(EventValidationTest, CustomerIsRequiredAndAtMost256Bytes) {
  event_.clear_customer();
  EXPECT_EQ(Rejection(), (EventRejection{"customer", "customer is required"}));
  event_.set_customer(std::string(256, 'c'));
  EXPECT_TRUE(Accepted());
  event_.set_customer(std::string(257, 'c'));
  EXPECT_EQ(Rejection(),
            (EventRejection{"customer", "customer is 257 bytes; at most 256"}));
}

TEST_F(EventValidationTest, OccurredAtIsRequired) {
  event_.clear_occurred_at();
  EXPECT_EQ(Rejection(),
            (EventRejection{"occurred_at", "occurred_at is required"}));
}

TEST_F(EventValidationTest, OccurredAtAtMostFiveMinutesAhead) {
  SetTime(event_, now_ + absl::Minutes(5));
  EXPECT_TRUE(Accepted());  // a drifting clock
  SetTime(event_, now_ + absl::Minutes(5) + absl::Seconds(1));
  EXPECT_EQ(Rejection(),
            (EventRejection{"occurred_at",
                            "occurred_at 2024-05-01T12:05:01Z is more than 5 "
                            "minutes in the future"}));
}

TEST_F(EventValidationTest, OccurredAtNotBefore2000) {
  SetTime(event_, At(2000, 1, 1, 0, 0, 0));
  EXPECT_TRUE(Accepted());
  SetTime(event_, At(1999, 12, 31, 23, 59, 59));
  EXPECT_EQ(Rejection(),
            (EventRejection{"occurred_at",
                            "occurred_at 1999-12-31T23:59:59Z is before "
                            "2000-01-01"}));
  event_.mutable_occurred_at()->set_seconds(0);  // the Unix epoch: unset clock
  EXPECT_EQ(Rejection().field, "occurred_at");
}

TEST_F(EventValidationTest, OccurredAtMustBeAValidTimestamp) {
  event_.mutable_occurred_at()->set_nanos(-1);
  EXPECT_EQ(
      Rejection(),
      (EventRejection{"occurred_at", "occurred_at is not a valid timestamp"}));
}

TEST_F(EventValidationTest, CsatIsOneToFive) {
  for (int ok : {1, 5}) {
    event_.set_csat(ok);
    EXPECT_TRUE(Accepted()) << ok;
  }
  event_.set_csat(0);
  EXPECT_EQ(Rejection(),
            (EventRejection{"csat", "csat must be between 1 and 5, got 0"}));
  event_.set_csat(6);
  EXPECT_EQ(Rejection(),
            (EventRejection{"csat", "csat must be between 1 and 5, got 6"}));
  event_.clear_csat();  // not given is not zero
  EXPECT_TRUE(Accepted());
}

TEST_F(EventValidationTest, NpsIsZeroToTen) {
  for (int ok : {0, 10}) {
    event_.set_nps(ok);
    EXPECT_TRUE(Accepted()) << ok;
  }
  event_.set_nps(-1);
  EXPECT_EQ(Rejection(),
            (EventRejection{"nps", "nps must be between 0 and 10, got -1"}));
  event_.set_nps(11);
  EXPECT_EQ(Rejection(),
            (EventRejection{"nps", "nps must be between 0 and 10, got 11"}));
}

TEST_F(EventValidationTest, CesIsOneToSeven) {
  for (int ok : {1, 7}) {
    event_.set_ces(ok);
    EXPECT_TRUE(Accepted()) << ok;
  }
  event_.set_ces(0);
  EXPECT_EQ(Rejection(),
            (EventRejection{"ces", "ces must be between 1 and 7, got 0"}));
  event_.set_ces(8);
  EXPECT_EQ(Rejection(),
            (EventRejection{"ces", "ces must be between 1 and 7, got 8"}));
}

TEST_F(EventValidationTest, CommentIsAtMost4000Bytes) {
  event_.set_comment(std::string(4000, 'k'));
  EXPECT_TRUE(Accepted());
  event_.set_comment(std::string(4001, 'k'));
  EXPECT_EQ(Rejection(),
            (EventRejection{"comment", "comment is 4001 bytes; at most 4000"}));
}

TEST_F(EventValidationTest, LanguageIsFinnishSwedishEnglishOrEmpty) {
  for (const char* ok : {"", "fi", "sv", "en"}) {
    event_.set_language(ok);
    EXPECT_TRUE(Accepted()) << ok;
  }
  event_.set_language("de");
  EXPECT_EQ(Rejection(),
            (EventRejection{"language",
                            "language must be fi, sv, en or empty, got 'de'"}));
}

TEST_F(EventValidationTest, MeasuresAreFiniteAndNotNegative) {
  (*event_.mutable_measures())["wait_seconds"] = 0;
  (*event_.mutable_measures())["handle_seconds"] = 312.5;
  EXPECT_TRUE(Accepted());
  (*event_.mutable_measures())["wait_seconds"] = -1;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures.wait_seconds",
                            "measure 'wait_seconds' must be a finite number >= "
                            "0, got -1"}));
  (*event_.mutable_measures())["wait_seconds"] = std::nan("");
  EXPECT_EQ(Rejection().field, "measures.wait_seconds");
  (*event_.mutable_measures())["wait_seconds"] =
      std::numeric_limits<double>::infinity();
  EXPECT_EQ(Rejection().field, "measures.wait_seconds");
}

TEST_F(EventValidationTest, MeasuresInsightCannotSumExactlyAreRefused) {
  // polku-insight keeps thousandths in 64 bits: 1e308 would have been
  // accepted here and then left out of every metric.
  (*event_.mutable_measures())["handle_seconds"] = kMaxMeasureValue;
  EXPECT_TRUE(Accepted());
  (*event_.mutable_measures())["handle_seconds"] = 1e308;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures.handle_seconds",
                            "measure 'handle_seconds' is 1e+308; at most "
                            "1000000000 (measures are summed exactly)"}));
  (*event_.mutable_measures())["handle_seconds"] = 1000000000.5;
  EXPECT_EQ(Rejection().field, "measures.handle_seconds");
}

TEST_F(EventValidationTest, TextThatPostgresCannotHoldIsRefusedOnEveryBackend) {
  event_.set_comment(std::string("ok\0hidden", 9));
  EXPECT_EQ(Rejection(), (EventRejection{"comment", "comment must not contain NUL (U+0000)"}));
  event_.set_comment("fine");
  (*event_.mutable_attributes())["store_id"] = std::string("a\0b", 3);
  EXPECT_EQ(Rejection(), (EventRejection{"attributes.store_id",
                                         "attributes.store_id must not contain NUL (U+0000)"}));
  event_.clear_attributes();
  (*event_.mutable_attributes())[std::string("st\0re", 6)] = "x";
  EXPECT_EQ(Rejection(),
            (EventRejection{"attributes", "attribute keys must not contain NUL (U+0000)"}));
  event_.clear_attributes();
  (*event_.mutable_measures())[std::string("wa\0t", 5)] = 1;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures", "measure keys must not contain NUL (U+0000)"}));
  event_.clear_measures();
  EXPECT_TRUE(Accepted());
}

TEST_F(EventValidationTest, AtMost32MeasuresWithShortKeys) {
  for (int i = 0; i < 32; ++i)
    (*event_.mutable_measures())[absl::StrCat("m", i)] = 1;
  EXPECT_TRUE(Accepted());
  (*event_.mutable_measures())["m32"] = 1;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures", "at most 32 measures, got 33"}));

  event_.clear_measures();
  (*event_.mutable_measures())[std::string(65, 'm')] = 1;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures",
                            absl::StrCat("measure key '", std::string(64, 'm'),
                                         "…' is 65 bytes; at most 64")}));
  event_.clear_measures();
  (*event_.mutable_measures())[""] = 1;
  EXPECT_EQ(Rejection(),
            (EventRejection{"measures", "measure keys must not be empty"}));
}

TEST_F(EventValidationTest, AtMost32AttributesWithBoundedKeysAndValues) {
  (*event_.mutable_attributes())["store_id"] = std::string(256, 's');
  EXPECT_TRUE(Accepted());
  (*event_.mutable_attributes())["store_id"] = std::string(257, 's');
  EXPECT_EQ(Rejection(),
            (EventRejection{"attributes.store_id",
                            "attribute 'store_id' is 257 bytes; at most 256"}));

  event_.clear_attributes();
  (*event_.mutable_attributes())[std::string(65, 'a')] = "x";
  EXPECT_EQ(Rejection().field, "attributes");

  event_.clear_attributes();
  for (int i = 0; i < 33; ++i) {
    // insert, not operator[] = "x": GCC 12 at -O3 warns falsely (-Wrestrict)
    // about the string assignment.
    event_.mutable_attributes()->insert({absl::StrCat("a", i), "x"});
  }
  EXPECT_EQ(Rejection(),
            (EventRejection{"attributes", "at most 32 attributes, got 33"}));
}

// Back-filled history (history_version): the journey "switching" of the
// tenant "hist" had `service_call` in version 1 (published 2024-01-01),
// renamed `support_call` in version 2.
class HistoryValidationTest : public EventValidationTest {
 protected:
  HistoryValidationTest() {
    polku::v1::WatchJourneysResponse all = testing::DemoJourneys();
    auto* v1 = all.add_journeys();
    *v1 = testing::Published("hist", "switching", 1,
                             {{"service_call", "support", "phone"}});
    v1->mutable_journey()->mutable_publish_time()->set_seconds(
        absl::ToUnixSeconds(At(2024, 1, 1, 0, 0, 0)));
    auto* v2 = all.add_journeys();
    *v2 = testing::Published("hist", "switching", 2,
                             {{"support_call", "use", "phone"}});
    v2->mutable_journey()->mutable_publish_time()->set_seconds(
        absl::ToUnixSeconds(At(2024, 3, 1, 0, 0, 0)));
    index_.Reset(all.journeys());
    event_.set_touchpoint("service_call");
    event_.set_journey("switching");
    SetTime(event_, At(2023, 6, 1, 12, 0, 0));
  }

  EventValidation ValidateHistoric(int32_t version) {
    return ValidateEvent(event_, {.tenant = "hist", .channel = "phone"},
                         *index_.Current(), now_, version);
  }
  EventRejection HistoricRejection(int32_t version) {
    EventValidation v = ValidateHistoric(version);
    if (auto* rejection = std::get_if<EventRejection>(&v)) return *rejection;
    return {"<accepted>", ""};
  }
};

TEST_F(HistoryValidationTest, AnOlderEventIsValidatedAgainstTheNamedVersion) {
  EventValidation v = ValidateHistoric(1);
  ASSERT_TRUE(std::holds_alternative<ResolvedTouchpoint>(v))
      << std::get<EventRejection>(v).reason;
  EXPECT_EQ(std::get<ResolvedTouchpoint>(v).journey_version, 1);
  EXPECT_EQ(std::get<ResolvedTouchpoint>(v).stage, "support");
  // Without history_version the latest version decides: the old key is
  // unknown there.
  EXPECT_EQ(HistoricRejection(0).field, "touchpoint");
  EXPECT_EQ(HistoricRejection(2),
            (EventRejection{"touchpoint",
                            "touchpoint 'service_call' is not in version 2 of "
                            "journey 'switching'"}));
}

TEST_F(HistoryValidationTest, AnEventSinceTheFirstVersionUsesTheLatest) {
  // After version 1 was published the map in force is known: history does
  // not apply, whatever the request names.
  SetTime(event_, At(2024, 2, 1, 12, 0, 0));
  EXPECT_EQ(HistoricRejection(1).field, "touchpoint");
  event_.set_touchpoint("support_call");
  EventValidation v = ValidateHistoric(1);
  ASSERT_TRUE(std::holds_alternative<ResolvedTouchpoint>(v));
  EXPECT_EQ(std::get<ResolvedTouchpoint>(v).journey_version, 2);
}

TEST_F(HistoryValidationTest, TheJourneyAndTheVersionMustExist) {
  event_.clear_journey();
  EXPECT_EQ(HistoricRejection(1),
            (EventRejection{"journey",
                            "journey is required when the request sets "
                            "history_version"}));
  event_.set_journey("nope");
  EXPECT_EQ(HistoricRejection(1),
            (EventRejection{"journey", "unknown journey 'nope'"}));
  event_.set_journey("switching");
  EXPECT_EQ(HistoricRejection(3),
            (EventRejection{"history_version",
                            "journey 'switching' has no published version 3 "
                            "(latest: 2)"}));
  // Checked for recent events too: a mistyped version is never ignored.
  SetTime(event_, now_ - absl::Hours(1));
  EXPECT_EQ(HistoricRejection(3).field, "history_version");
}

TEST_F(HistoryValidationTest, TheNamedVersionsChannelDecides) {
  EXPECT_EQ(HistoricRejection(1).field, "<accepted>");
  EventValidation v =
      ValidateEvent(event_, {.tenant = "hist", .channel = "shop"},
                    *index_.Current(), now_, 1);
  ASSERT_TRUE(std::holds_alternative<EventRejection>(v));
  EXPECT_EQ(std::get<EventRejection>(v).reason,
            "touchpoint 'service_call' belongs to channel 'phone', not 'shop'");
}

TEST_F(EventValidationTest, TheFirstBrokenRuleInFieldOrderIsReported) {
  event_.set_csat(9);
  event_.set_language("de");
  event_.clear_customer();
  EXPECT_EQ(Rejection().field, "customer");
  event_.set_customer("c");
  EXPECT_EQ(Rejection().field, "csat");
}

}  // namespace
}  // namespace polku::feedback
