#include "services/insight/store/rollups.h"

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

double MeasureSum::mean() const {
  if (n == 0) return 0;
  return static_cast<double>(sum_milli) / static_cast<double>(n) / 1000.0;
}

double MeasureSum::variance() const {
  if (n < 2) return 0;
  // n·Σx² − (Σx)² is exact in 128 bits for any realistic sum; only beyond
  // that does it fall back to long double.
  __int128 n_sum_squares = 0;
  __int128 numerator = 0;
  const __int128 square_of_sum = static_cast<__int128>(sum_milli) * sum_milli;
  long double milli2;
  if (!__builtin_mul_overflow(static_cast<__int128>(n), sum_squares_milli2,
                              &n_sum_squares) &&
      !__builtin_sub_overflow(n_sum_squares, square_of_sum, &numerator)) {
    milli2 = static_cast<long double>(numerator) /
             (static_cast<long double>(n) * static_cast<long double>(n - 1));
  } else {
    const long double mean = static_cast<long double>(sum_milli) / n;
    milli2 = (static_cast<long double>(sum_squares_milli2) - mean * sum_milli) /
             static_cast<long double>(n - 1);
  }
  if (milli2 < 0) milli2 = 0;  // only rounding in the fallback can do this
  return static_cast<double>(milli2 / 1e6L);
}

}  // namespace polku::insight
