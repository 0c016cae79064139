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

TEST(MeasuresTest, QuantilesInterpolateLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(Quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile(v, 0.9), 3.7);
  std::vector<double> none;
  EXPECT_EQ(Quantile(none, 0.5), 0);
}

}  // namespace
}  // namespace polku::cases
