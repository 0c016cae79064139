// A tenant's business hours: weekly opening hours in its time zone, minus
// holidays. SLA clocks run only inside them (sla.h).
//
//   BusinessHours hours{.time_zone = "Europe/Helsinki"};
//   for (absl::Weekday d : {absl::Weekday::monday, …, absl::Weekday::friday})
//     hours.weekly.push_back({d, 8 * 60, 16 * 60});
//   hours.holidays.push_back(absl::CivilDay(2026, 6, 19));  // Midsummer Eve
//   POLKU_ASSIGN_OR_RETURN(BusinessCalendar calendar,
//                          BusinessCalendar::Create(hours));
//   absl::Time due = *calendar.AddBusinessTime(opened_at, absl::Hours(48));
//
// Opening hours are local wall-clock times; on a day when the clocks change
// an hour that does not exist is skipped and one that happens twice counts
// once (absl's pre-transition reading of the civil time), so an interval is
// as long as it really is on that day.
#ifndef POLKU_SERVICES_CASES_DOMAIN_BUSINESS_CALENDAR_H_
#define POLKU_SERVICES_CASES_DOMAIN_BUSINESS_CALENDAR_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace polku::cases {

// Open from `open_minute` to `close_minute` (minutes after local midnight,
// 0 ≤ open < close ≤ 1440) on every `day` of the week.
struct OpeningHours {
  absl::Weekday day = absl::Weekday::monday;
  int open_minute = 0;
  int close_minute = 0;
};

struct BusinessHours {
  // IANA name, e.g. "Europe/Helsinki".
  std::string time_zone;
  // The intervals of a week; several per day are allowed (a lunch break).
  std::vector<OpeningHours> weekly;
  // Local days with no business hours at all.
  std::vector<absl::CivilDay> holidays;
};

class BusinessCalendar {
 public:
  // INVALID_ARGUMENT for an unknown time zone, an interval out of range or
  // empty, overlapping intervals on one day, or a week without any hours
  // (no SLA could ever fall due).
  static absl::StatusOr<BusinessCalendar> Create(const BusinessHours& hours);

  // The instant at which `amount` of business time has passed since
  // `start`. An amount that runs out exactly at closing time ends at the
  // closing time, not at the next opening. An amount of zero gives the
  // first business instant at or after `start` (the next opening when
  // `start` is outside business hours); a negative one is INVALID_ARGUMENT.
  // OUT_OF_RANGE when the holidays leave no business hours within ten years.
  absl::StatusOr<absl::Time> AddBusinessTime(absl::Time start,
                                             absl::Duration amount) const;

  // Business time inside [from, to); zero when to ≤ from.
  absl::Duration BusinessTimeBetween(absl::Time from, absl::Time to) const;

  bool IsHoliday(absl::CivilDay day) const { return holidays_.count(day) > 0; }
  const absl::TimeZone& time_zone() const { return zone_; }

 private:
  struct Interval {
    int open_minute;
    int close_minute;
  };

  BusinessCalendar() = default;

  // The absolute intervals of one local day, in order; none on a holiday.
  std::vector<std::pair<absl::Time, absl::Time>> DayIntervals(
      absl::CivilDay day) const;

  absl::TimeZone zone_;
  // Indexed by absl::Weekday (monday = 0 … sunday = 6), sorted by opening.
  std::vector<Interval> weekly_[7];
  std::set<absl::CivilDay> holidays_;
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_DOMAIN_BUSINESS_CALENDAR_H_
