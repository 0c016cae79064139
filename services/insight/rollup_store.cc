#include "services/insight/rollup_store.h"

namespace polku::insight {
namespace {
constexpr int64_t kSecondsPerDay = 24 * 60 * 60;
}  // namespace

Day DayOf(absl::Time time) {
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds towards the past
  // Floor division: 1969-12-31T23:00Z is day −1, not day 0.
  Day day = seconds / kSecondsPerDay;
  if (seconds % kSecondsPerDay < 0) --day;
  return day;
}

absl::Time StartOfDay(Day day) {
  return absl::FromUnixSeconds(day * kSecondsPerDay);
}

}  // namespace polku::insight
