#include "services/cases/domain/business_calendar.h"

#include <random>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

using ::testing::HasSubstr;

absl::TimeZone Helsinki() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Helsinki", &zone));
  return zone;
}

absl::Time Local(int y, int m, int d, int hh, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), Helsinki());
}

// Mon–Fri 8–16 Europe/Helsinki, Midsummer Eve 2026 (Friday 19 June) off.
BusinessHours FinnishOffice() {
  BusinessHours hours{.time_zone = "Europe/Helsinki"};
  for (absl::Weekday day :
       {absl::Weekday::monday, absl::Weekday::tuesday,
        absl::Weekday::wednesday, absl::Weekday::thursday,
        absl::Weekday::friday}) {
    hours.weekly.push_back({day, 8 * 60, 16 * 60});
  }
  hours.holidays.push_back(absl::CivilDay(2026, 6, 19));
  return hours;
}

BusinessCalendar Office() { return *BusinessCalendar::Create(FinnishOffice()); }

TEST(BusinessCalendarTest, CaseOpenedOnMidsummerEveIsDueSixWorkingDaysLater) {
  // Opened on Friday 19 June 2026, Midsummer Eve: a holiday, then the
  // weekend. The 48 business hours are six 8-hour days from Monday 22
  // June, ending at closing time on Monday 29 June: 16:00 EEST, 13:00 UTC.
  absl::StatusOr<absl::Time> due =
      Office().AddBusinessTime(Local(2026, 6, 19, 10, 30), absl::Hours(48));
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, absl::FromCivil(absl::CivilSecond(2026, 6, 29, 13, 0, 0),
                                  absl::UTCTimeZone()));
}

TEST(BusinessCalendarTest, WithoutTheHolidayMidsummerEveWouldCount) {
  BusinessHours hours = FinnishOffice();
  hours.holidays.clear();
  // 5.5 hours on Friday, 40 in the next week, 2.5 on Monday 29 June.
  EXPECT_EQ(*BusinessCalendar::Create(hours)->AddBusinessTime(
                Local(2026, 6, 19, 10, 30), absl::Hours(48)),
            Local(2026, 6, 29, 10, 30));
}

TEST(BusinessCalendarTest, CaseOpenedTheDayBeforeMidsummerEveSkipsIt) {
  // Thursday 18 June 14:00: 2 hours that day, Friday off, 40 hours in the
  // week of 22 June, the last 6 on Monday 29 June from 8:00.
  EXPECT_EQ(*Office().AddBusinessTime(Local(2026, 6, 18, 14), absl::Hours(48)),
            Local(2026, 6, 29, 14));
}

TEST(BusinessCalendarTest, TimeRunningOutAtClosingEndsAtClosing) {
  EXPECT_EQ(*Office().AddBusinessTime(Local(2026, 6, 1, 8), absl::Hours(8)),
            Local(2026, 6, 1, 16));
  EXPECT_EQ(*Office().AddBusinessTime(Local(2026, 6, 1, 8),
                                      absl::Hours(8) + absl::Seconds(1)),
            Local(2026, 6, 2, 8) + absl::Seconds(1));
}

TEST(BusinessCalendarTest, ZeroFromOutsideHoursIsTheNextOpening) {
  // Saturday 6 June 2026 → Monday 8 June 8:00.
  EXPECT_EQ(*Office().AddBusinessTime(Local(2026, 6, 6, 12), absl::ZeroDuration()),
            Local(2026, 6, 8, 8));
  EXPECT_EQ(*Office().AddBusinessTime(Local(2026, 6, 8, 9), absl::ZeroDuration()),
            Local(2026, 6, 8, 9));
}

TEST(BusinessCalendarTest, BusinessTimeBetweenCountsOnlyOpenHours) {
  BusinessCalendar office = Office();
  // Thursday 18 June 12:00 to Monday 22 June 10:00: 4 + 0 (holiday) + 2.
  EXPECT_EQ(office.BusinessTimeBetween(Local(2026, 6, 18, 12),
                                       Local(2026, 6, 22, 10)),
            absl::Hours(6));
  EXPECT_EQ(office.BusinessTimeBetween(Local(2026, 6, 22, 10),
                                       Local(2026, 6, 18, 12)),
            absl::ZeroDuration());
}

TEST(BusinessCalendarTest, AddingAndMeasuringAgree) {
  BusinessCalendar office = Office();
  std::mt19937_64 random(21);
  for (int i = 0; i < 500; ++i) {
    absl::Time start = Local(2026, 1, 1, 0) +
                       absl::Minutes(random() % (365 * 24 * 60));
    absl::Duration amount = absl::Minutes(random() % (200 * 60));
    absl::StatusOr<absl::Time> end = office.AddBusinessTime(start, amount);
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(office.BusinessTimeBetween(start, *end), amount)
        << absl::FormatTime(start) << " + " << amount;
  }
}

TEST(BusinessCalendarTest, DaylightSavingDayIsAsLongAsItReallyIs) {
  // Round the clock, every day. On Sunday 29 March 2026 Helsinki skips
  // 03:00–04:00: that day has 23 hours, so 48 hours from Saturday midnight
  // end at Monday 01:00 local.
  BusinessHours always{.time_zone = "Europe/Helsinki"};
  for (int d = 0; d < 7; ++d) {
    always.weekly.push_back({static_cast<absl::Weekday>(d), 0, 24 * 60});
  }
  BusinessCalendar calendar = *BusinessCalendar::Create(always);
  EXPECT_EQ(*calendar.AddBusinessTime(Local(2026, 3, 28, 0), absl::Hours(48)),
            Local(2026, 3, 28, 0) + absl::Hours(48));
  EXPECT_EQ(*calendar.AddBusinessTime(Local(2026, 3, 28, 0), absl::Hours(48)),
            Local(2026, 3, 30, 1));
}

TEST(BusinessCalendarTest, LunchBreaksSplitADay) {
  BusinessHours hours{.time_zone = "Europe/Stockholm"};
  hours.weekly.push_back({absl::Weekday::monday, 9 * 60, 12 * 60});
  hours.weekly.push_back({absl::Weekday::monday, 13 * 60, 17 * 60});
  BusinessCalendar calendar = *BusinessCalendar::Create(hours);
  absl::TimeZone stockholm = calendar.time_zone();
  absl::Time monday =
      absl::FromCivil(absl::CivilSecond(2026, 6, 1, 11, 0, 0), stockholm);
  EXPECT_EQ(*calendar.AddBusinessTime(monday, absl::Hours(2)),
            absl::FromCivil(absl::CivilSecond(2026, 6, 1, 14, 0, 0), stockholm));
  // Six more hours run into the next Monday.
  EXPECT_EQ(*calendar.AddBusinessTime(monday, absl::Hours(7)),
            absl::FromCivil(absl::CivilSecond(2026, 6, 8, 11, 0, 0), stockholm));
}

TEST(BusinessCalendarTest, RefusesWhatCouldNeverFallDue) {
  BusinessHours hours = FinnishOffice();
  hours.time_zone = "Europe/Atlantis";
  EXPECT_THAT(BusinessCalendar::Create(hours).status().message(),
              HasSubstr("time_zone"));
  hours = FinnishOffice();
  hours.weekly.clear();
  EXPECT_EQ(BusinessCalendar::Create(hours).status().code(),
            absl::StatusCode::kInvalidArgument);
  hours = FinnishOffice();
  hours.weekly.push_back({absl::Weekday::monday, 15 * 60, 17 * 60});
  EXPECT_THAT(BusinessCalendar::Create(hours).status().message(),
              HasSubstr("overlap"));
  hours = FinnishOffice();
  hours.weekly.push_back({absl::Weekday::sunday, 10 * 60, 10 * 60});
  EXPECT_THAT(BusinessCalendar::Create(hours).status().message(),
              HasSubstr("weekly[5]"));
  EXPECT_EQ(Office().AddBusinessTime(Local(2026, 6, 1, 8), -absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polku::cases
