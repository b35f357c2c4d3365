#include "formats/time_util.hpp"

namespace assay::formats {
namespace {

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

bool civil_to_unix_ns(int year, int month, int day, int hour, int minute, int second, int32_t nanos,
                      int tz_offset_min, int64_t* out) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || year > 2261 || month < 1 || month > 12 || day < 1) return false;
  const int dim = kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day > dim || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 59 || nanos < 0 || nanos > 999'999'999 || tz_offset_min < -24 * 60 ||
      tz_offset_min > 24 * 60)
    return false;
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                       second - int64_t{tz_offset_min} * 60;
  // 2261-12-31T23:59:59 + 24 h is below INT64_MAX / 1e9 (about 2262-04-11).
  *out = secs * 1'000'000'000 + nanos;
  return true;
}

}  // namespace assay::formats
