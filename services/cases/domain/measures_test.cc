#include "services/cases/domain/measures.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

// Mon–Fri 8–16 UTC; Monday 1 June 2026 08:00 UTC is 1780300800.
constexpr int64_t kMonday8 = 1'780'300'800;

v1::Case Case(bool no_contact, int64_t contacted_after,
              int64_t resolved_after, int64_t due_after = 8 * 3600) {
  v1::Case c;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    sla_policy {
      first_contact_seconds: 28800
      business_hours {
        time_zone: "UTC"
        weekly { weekday: 1 open_minute: 480 close_minute: 960 }
        weekly { weekday: 2 open_minute: 480 close_minute: 960 }
        weekly { weekday: 3 open_minute: 480 close_minute: 960 }
        weekly { weekday: 4 open_minute: 480 close_minute: 960 }
        weekly { weekday: 5 open_minute: 480 close_minute: 960 }
      }
    }
  )pb", &c);
  c.set_no_contact(no_contact);
  c.mutable_create_time()->set_seconds(kMonday8);
  // Due times here are wall-clock offsets, enough for the comparison.
  c.mutable_sla()->mutable_first_contact_due()->set_seconds(kMonday8 + due_after);
  if (contacted_after >= 0) {
    c.mutable_sla()->mutable_first_contact_time()->set_seconds(kMonday8 +
                                                               contacted_after);
  }
  if (resolved_after >= 0) {
    c.mutable_sla()->mutable_resolution_time()->set_seconds(kMonday8 +
                                                            resolved_after);
  }
  return c;
}

TEST(MeasuresTest, CloseTheLoopRateAndBusinessTimes) {
  std::vector<v1::Case> cases = {
      Case(false, 3600, 7200),   // contacted in 1 h, closed in 2 h
      Case(false, 7200, -1),     // contacted in 2 h
      // Contacted Tuesday 09:00: 9 business hours, past the 8-hour SLA.
      Case(false, 25 * 3600, 26 * 3600),
      Case(false, -1, -1),       // not contacted
      Case(true, -1, 3600),      // no contact: not eligible, closed in 1 h
  };
  auto m = ComputeCaseMeasures(cases);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->eligible(), 4);
  EXPECT_EQ(m->contacted_within_sla(), 2);
  EXPECT_DOUBLE_EQ(m->close_the_loop_rate(), 0.5);
  // First contact: 1 h, 2 h, 9 h (Monday 8 h + Tuesday 1 h).
  EXPECT_DOUBLE_EQ(m->first_contact_median_seconds(), 2 * 3600);
  EXPECT_DOUBLE_EQ(m->first_contact_p90_seconds(), 3600 * (2 + 0.8 * 7));
  // Close: 1 h, 2 h, 10 h.
  EXPECT_DOUBLE_EQ(m->close_median_seconds(), 2 * 3600);
}

TEST(MeasuresTest, PausesDoNotCount) {
  v1::Case c = Case(false, 5 * 3600, -1);
  v1::TimeRange& pause = *c.mutable_sla()->add_pauses();
  pause.mutable_start()->set_seconds(kMonday8 + 3600);
  pause.mutable_end()->set_seconds(kMonday8 + 3 * 3600);
  auto m = ComputeCaseMeasures({c});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->first_contact_median_seconds(), 3 * 3600);
}

// First contact, once made, stays a fact of the case: waiting for the
// customer afterwards (the service shows no first-contact due time while a
// case waits), resolving, reopening or a later no-contact wish do not take
// it away, and the due time it is compared with is the one that stood.
TEST(MeasuresTest, AContactedCaseStaysContactedWithinSla) {
  // Contacted after 1 h, now waiting since 2 h: no due time shown.
  v1::Case waiting = Case(false, 3600, -1);
  waiting.mutable_sla()->clear_first_contact_due();
  v1::TimeRange& pause = *waiting.mutable_sla()->add_pauses();
  pause.mutable_start()->set_seconds(kMonday8 + 2 * 3600);
  // Contacted after 2 h, resolved after 3 h, reopened and waiting again.
  v1::Case reopened = Case(false, 2 * 3600, 3 * 3600);
  reopened.mutable_sla()->clear_first_contact_due();
  reopened.mutable_sla()->add_pauses()->mutable_start()->set_seconds(
      kMonday8 + 4 * 3600);
  // Contacted after 1 h; the customer then asked not to be contacted again.
  v1::Case refused_later = Case(true, 3600, -1);
  // Contacted Tuesday 9:00 (9 business hours): late, also while it waits.
  v1::Case late = Case(false, 25 * 3600, -1);
  late.mutable_sla()->clear_first_contact_due();
  late.mutable_sla()->add_pauses()->mutable_start()->set_seconds(
      kMonday8 + 26 * 3600);
  auto m = ComputeCaseMeasures({waiting, reopened, refused_later, late});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->eligible(), 4);
  EXPECT_EQ(m->contacted_within_sla(), 3);
  // Pauses after the first contact do not shorten the time to it: 1, 2, 1, 9 h.
  EXPECT_DOUBLE_EQ(m->first_contact_median_seconds(), 1.5 * 3600);
  EXPECT_DOUBLE_EQ(m->close_median_seconds(), 3 * 3600);
}

// Waiting before the first contact moves its due time by the paused
// business time; the measure counts it as the service would.
TEST(MeasuresTest, APauseBeforeFirstContactMovesItsDueTime) {
  // Waiting Monday 9:00–12:00 (3 business hours).
  v1::Case c = Case(false, 26 * 3600, -1);
  c.mutable_sla()->clear_first_contact_due();
  v1::TimeRange& pause = *c.mutable_sla()->add_pauses();
  pause.mutable_start()->set_seconds(kMonday8 + 3600);
  pause.mutable_end()->set_seconds(kMonday8 + 4 * 3600);
  // Contacted Tuesday 10:00: 10 business hours, 7 of them unpaused; due
  // Tuesday 11:00.
  auto m = ComputeCaseMeasures({c});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->contacted_within_sla(), 1);
  EXPECT_DOUBLE_EQ(m->first_contact_median_seconds(), 7 * 3600);
}

TEST(MeasuresTest, QuantilesInterpolateLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(Quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.9), 3.7);
  std::vector<double> none;
  EXPECT_EQ(Quantile(none, 0.5), 0);
}

}  // namespace
}  // namespace polku::cases
