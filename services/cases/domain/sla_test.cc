#include "services/cases/domain/sla.h"

#include "gtest/gtest.h"

namespace polku::cases {
namespace {

absl::TimeZone Helsinki() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Helsinki", &zone));
  return zone;
}

absl::Time Local(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), Helsinki());
}

BusinessCalendar Office() {
  BusinessHours hours{.time_zone = "Europe/Helsinki"};
  for (int d = 0; d < 5; ++d) {
    hours.weekly.push_back({static_cast<absl::Weekday>(d), 8 * 60, 16 * 60});
  }
  hours.holidays.push_back(absl::CivilDay(2026, 6, 19));
  return *BusinessCalendar::Create(hours);
}

TEST(SlaTest, PauseMovesTheDueTimeByThePausedBusinessTime) {
  BusinessCalendar office = Office();
  absl::Time opened = Local(2026, 6, 1, 9);  // Monday
  absl::Time due = *DueAfter(office, opened, absl::Hours(8), {});
  EXPECT_EQ(due, Local(2026, 6, 2, 9));
  // Waiting for the customer from Monday 14:00 to Tuesday 10:00: 2 business
  // hours on Monday, 2 on Tuesday.
  SlaPause pause{Local(2026, 6, 1, 14), Local(2026, 6, 2, 10)};
  absl::Duration paused = office.BusinessTimeBetween(pause.start, pause.end);
  EXPECT_EQ(paused, absl::Hours(4));
  absl::Time moved = *DueAfter(office, opened, absl::Hours(8), {pause});
  EXPECT_EQ(moved, *office.AddBusinessTime(due, paused));
  EXPECT_EQ(moved, Local(2026, 6, 2, 13));
}

TEST(SlaTest, OngoingPauseLeavesNothingDueAndALatePauseMovesNothing) {
  BusinessCalendar office = Office();
  absl::Time opened = Local(2026, 6, 1, 9);
  EXPECT_EQ(*DueAfter(office, opened, absl::Hours(8),
                      {{Local(2026, 6, 1, 10), absl::InfiniteFuture()}}),
            absl::InfiniteFuture());
  // A pause that starts after the due time has no effect on it.
  EXPECT_EQ(*DueAfter(office, opened, absl::Hours(8),
                      {{Local(2026, 6, 3, 9), Local(2026, 6, 4, 9)}}),
            Local(2026, 6, 2, 9));
  // Pauses outside business hours cost nothing; two pauses add up.
  EXPECT_EQ(*DueAfter(office, opened, absl::Hours(8),
                      {{Local(2026, 6, 1, 15), Local(2026, 6, 1, 15, 30)},
                       {Local(2026, 6, 1, 17), Local(2026, 6, 2, 7)},
                       {Local(2026, 6, 1, 10), Local(2026, 6, 1, 11)}}),
            Local(2026, 6, 2, 10, 30));
}

TEST(SlaTest, ComputesBothClocksAndTheirReminders) {
  SlaPolicy policy{.first_contact = absl::Hours(8),
                   .resolution = absl::Hours(48),
                   .reminder_share = 0.75};
  SlaTimes times = *ComputeSla(Office(), policy, Local(2026, 6, 18, 14), {});
  EXPECT_EQ(times.first_contact_reminder, Local(2026, 6, 22, 12));
  EXPECT_EQ(times.first_contact_due, Local(2026, 6, 22, 14));
  EXPECT_EQ(times.resolution_reminder, Local(2026, 6, 26, 10));
  EXPECT_EQ(times.resolution_due, Local(2026, 6, 29, 14));

  SlaPolicy none;
  SlaTimes nothing = *ComputeSla(Office(), none, Local(2026, 6, 18, 14), {});
  EXPECT_EQ(nothing.first_contact_due, absl::InfiniteFuture());
  EXPECT_EQ(nothing.resolution_reminder, absl::InfiniteFuture());

  policy.reminder_share = 1;
  EXPECT_FALSE(ComputeSla(Office(), policy, Local(2026, 6, 18, 14), {}).ok());
}

TEST(SlaTest, ReminderAndBreachAreRaisedOnceEach) {
  SlaPolicy policy{.first_contact = absl::Hours(8),
                   .resolution = absl::Hours(48),
                   .reminder_share = 0.5};
  SlaTimes times = *ComputeSla(Office(), policy, Local(2026, 6, 1, 9), {});
  uint32_t raised = 0;
  int counts[4] = {0, 0, 0, 0};
  // The SLA timer wakes every 10 minutes for three weeks; the case is
  // contacted late (after the first-contact breach) and never resolved.
  for (absl::Time now = Local(2026, 6, 1, 9); now < Local(2026, 6, 22, 9);
       now += absl::Minutes(10)) {
    bool contacted = now >= Local(2026, 6, 3, 9);
    uint32_t raise = PendingSlaAlerts(times, now, contacted, false, raised);
    for (int bit = 0; bit < 4; ++bit) {
      if (raise & (1u << bit)) ++counts[bit];
    }
    raised |= raise;
  }
  EXPECT_EQ(counts[0], 1);  // first-contact reminder
  EXPECT_EQ(counts[1], 1);  // first-contact breach
  EXPECT_EQ(counts[2], 1);  // resolution reminder
  EXPECT_EQ(counts[3], 1);  // resolution breach
}

TEST(SlaTest, MetSlasRaiseNothing) {
  SlaPolicy policy{.first_contact = absl::Hours(8),
                   .resolution = absl::Hours(48),
                   .reminder_share = 0.5};
  SlaTimes times = *ComputeSla(Office(), policy, Local(2026, 6, 1, 9), {});
  EXPECT_EQ(PendingSlaAlerts(times, Local(2026, 7, 1, 9), true, false, 0),
            kResolutionReminder | kResolutionBreach);
  EXPECT_EQ(PendingSlaAlerts(times, Local(2026, 7, 1, 9), true, true, 0), 0u);
  EXPECT_EQ(PendingSlaAlerts(times, Local(2026, 6, 1, 12), false, false, 0),
            0u);
  EXPECT_EQ(PendingSlaAlerts(times, Local(2026, 6, 1, 13), false, false, 0),
            kFirstContactReminder);
}

// Each clock stops only until its SLA is met: waiting after the first
// contact neither hides nor moves the first-contact due time; a
// no-contact stretch stops the first-contact clock only.
TEST(SlaTest, EachClockStopsOnlyUntilItIsMet) {
  BusinessCalendar office = Office();
  SlaPolicy policy{.first_contact = absl::Hours(8),
                   .resolution = absl::Hours(48),
                   .reminder_share = 0.75};
  absl::Time opened = Local(2026, 6, 1, 9);  // Monday
  SlaHistory contacted_then_waiting{
      .waiting = {{Local(2026, 6, 1, 11), absl::InfiniteFuture()}},
      .first_contact = Local(2026, 6, 1, 10)};
  SlaTimes times =
      *ComputeCaseSla(office, policy, opened, contacted_then_waiting);
  EXPECT_EQ(times.first_contact_due, Local(2026, 6, 2, 9));
  EXPECT_EQ(times.resolution_due, absl::InfiniteFuture());  // it waits

  // Resolved Monday 13:00 after waiting 11:00–12:00, reopened and waiting
  // since 15:00: resolution due moved by the one hour only.
  SlaHistory reopened{
      .waiting = {{Local(2026, 6, 1, 15), absl::InfiniteFuture()},
                  {Local(2026, 6, 1, 11), Local(2026, 6, 1, 12)}},
      .first_contact = Local(2026, 6, 1, 10),
      .resolved = Local(2026, 6, 1, 13)};
  times = *ComputeCaseSla(office, policy, opened, reopened);
  EXPECT_EQ(times.first_contact_due, Local(2026, 6, 2, 9));
  EXPECT_EQ(times.resolution_due, Local(2026, 6, 9, 10));

  // No contact from Monday 14:00 (5 business hours in) to Wednesday 9:00,
  // overlapping a wait 13:00–15:00 (its own hour 13–14 counts once).
  SlaHistory refused{
      .waiting = {{Local(2026, 6, 1, 13), Local(2026, 6, 1, 15)}},
      .no_contact = {{Local(2026, 6, 1, 14), Local(2026, 6, 3, 9)}}};
  EXPECT_EQ(FirstContactPauses(refused).size(), 1u);
  times = *ComputeCaseSla(office, policy, opened, refused);
  // 4 business hours before 13:00, 4 left from Wednesday 9:00.
  EXPECT_EQ(times.first_contact_due, Local(2026, 6, 3, 13));
  EXPECT_EQ(times.first_contact_reminder, Local(2026, 6, 3, 11));
  // Resolution: only the 2-hour wait counts.
  EXPECT_EQ(times.resolution_due, Local(2026, 6, 9, 11));
  // Still no-contact: nothing due for first contact, so nothing to raise.
  refused.no_contact[0].end = absl::InfiniteFuture();
  times = *ComputeCaseSla(office, policy, opened, refused);
  EXPECT_EQ(times.first_contact_due, absl::InfiniteFuture());
  EXPECT_EQ(times.first_contact_reminder, absl::InfiniteFuture());
  EXPECT_EQ(PendingSlaAlerts(times, Local(2026, 6, 30, 9), false, false, 0),
            kResolutionReminder | kResolutionBreach);
}

}  // namespace
}  // namespace polku::cases
