#include "services/cases/domain/business_calendar.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polku::cases {
namespace {

// How far AddBusinessTime looks before it gives up (holidays could, in
// principle, cover every opening).
constexpr int kMaxDays = 3660;

int WeekdayIndex(absl::Weekday day) { return static_cast<int>(day); }

}  // namespace

absl::StatusOr<BusinessCalendar> BusinessCalendar::Create(
    const BusinessHours& hours) {
  BusinessCalendar calendar;
  if (hours.time_zone.empty() ||
      !absl::LoadTimeZone(hours.time_zone, &calendar.zone_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "business_hours.time_zone: unknown time zone \"", hours.time_zone,
        "\""));
  }
  for (size_t i = 0; i < hours.weekly.size(); ++i) {
    const OpeningHours& h = hours.weekly[i];
    if (h.open_minute < 0 || h.close_minute > 24 * 60 ||
        h.open_minute >= h.close_minute) {
      return absl::InvalidArgumentError(absl::StrCat(
          "business_hours.weekly[", i, "]: opening ", h.open_minute,
          " and closing ", h.close_minute,
          " must satisfy 0 <= open < close <= 1440 (minutes)"));
    }
    calendar.weekly_[WeekdayIndex(h.day)].push_back(
        {h.open_minute, h.close_minute});
  }
  bool any = false;
  for (auto& day : calendar.weekly_) {
    std::sort(day.begin(), day.end(), [](const Interval& a, const Interval& b) {
      return a.open_minute < b.open_minute;
    });
    for (size_t i = 1; i < day.size(); ++i) {
      if (day[i].open_minute < day[i - 1].close_minute) {
        return absl::InvalidArgumentError(
            "business_hours.weekly: intervals of one day overlap");
      }
    }
    any = any || !day.empty();
  }
  if (!any) {
    return absl::InvalidArgumentError(
        "business_hours.weekly: a week without business hours");
  }
  calendar.holidays_.insert(hours.holidays.begin(), hours.holidays.end());
  return calendar;
}

std::vector<std::pair<absl::Time, absl::Time>> BusinessCalendar::DayIntervals(
    absl::CivilDay day) const {
  std::vector<std::pair<absl::Time, absl::Time>> out;
  if (IsHoliday(day)) return out;
  for (const Interval& i : weekly_[WeekdayIndex(absl::GetWeekday(day))]) {
    absl::Time open = zone_.At(absl::CivilMinute(day) + i.open_minute).pre;
    absl::Time close = zone_.At(absl::CivilMinute(day) + i.close_minute).pre;
    if (open < close) out.emplace_back(open, close);
  }
  return out;
}

absl::StatusOr<absl::Time> BusinessCalendar::AddBusinessTime(
    absl::Time start, absl::Duration amount) const {
  if (amount < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("business time to add is negative");
  }
  absl::CivilDay day = absl::ToCivilDay(start, zone_);
  for (int n = 0; n < kMaxDays; ++n, ++day) {
    for (const auto& [open, close] : DayIntervals(day)) {
      if (close <= start) continue;
      absl::Time from = std::max(open, start);
      absl::Duration available = close - from;
      if (amount <= available) return from + amount;
      amount -= available;
    }
  }
  return absl::OutOfRangeError(
      "no business hours within ten years of the start");
}

absl::Duration BusinessCalendar::BusinessTimeBetween(absl::Time from,
                                                     absl::Time to) const {
  absl::Duration total = absl::ZeroDuration();
  if (to <= from) return total;
  for (absl::CivilDay day = absl::ToCivilDay(from, zone_);
       day <= absl::ToCivilDay(to, zone_); ++day) {
    for (const auto& [open, close] : DayIntervals(day)) {
      absl::Time a = std::max(open, from);
      absl::Time b = std::min(close, to);
      if (a < b) total += b - a;
    }
  }
  return total;
}

}  // namespace polku::cases
