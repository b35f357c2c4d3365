#include "engine/time.hpp"

#include <chrono>
#include <cstdio>

namespace assay::engine {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr std::string_view kExpected =
    "expected an RFC 3339 time such as 2026-01-01T00:00:00Z or a date such as 2026-01-01";

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool is_leap_year(int y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int days_in_month(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm; exact for
// the years 0000..9999 that four digits can write).
int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string two(int v) {
  char b[8];
  std::snprintf(b, sizeof b, "%02d", v);
  return b;
}

ParsedTime refuse(std::string why) {
  return ParsedTime{std::nullopt, std::move(why)};
}

}  // namespace

ParsedTime parse_time(std::string_view s, TimeBound bound) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() < 10 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return refuse(std::string(kExpected));
  if (mo < 1 || mo > 12) return refuse("month " + two(mo) + " does not exist (01..12)");
  if (d < 1 || d > days_in_month(y, mo))
    return refuse("day " + two(d) + " does not exist: " + std::string(s.substr(0, 7)) + " has " +
                  std::to_string(days_in_month(y, mo)) + " days");
  int64_t frac_ns = 0;
  int64_t offset_s = 0;
  size_t p = 10;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return refuse(std::string(kExpected));
    if (s.size() < p + 9 || !digits(s, p + 1, 2, h) || s[p + 3] != ':' ||
        !digits(s, p + 4, 2, mi) || s[p + 6] != ':' || !digits(s, p + 7, 2, se))
      return refuse(std::string(kExpected) + " (a time needs hh:mm:ss and a UTC offset)");
    if (h > 23) return refuse("hour " + two(h) + " does not exist (00..23)");
    if (mi > 59) return refuse("minute " + two(mi) + " does not exist (00..59)");
    if (se == 60)
      return refuse(
          "a leap second (second 60) cannot be represented: times are POSIX UTC nanoseconds, "
          "which have no leap seconds (write 23:59:59.999999999 or the next 00:00:00)");
    if (se > 60) return refuse("second " + two(se) + " does not exist (00..59)");
    p += 9;
    if (p < s.size() && s[p] == '.') {
      ++p;
      const size_t start = p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
      if (p == start) return refuse(std::string(kExpected) + " (no digits after the '.')");
      if (p - start > 9)
        return refuse("more than 9 fractional digits: the resolution of a time is one nanosecond");
      int64_t scale = 100000000;
      for (size_t i = start; i < p; ++i, scale /= 10) frac_ns += (s[i] - '0') * scale;
    }
    if (p >= s.size()) return refuse("no UTC offset: add Z (UTC) or +hh:mm / -hh:mm");
    if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int oh = 0, om = 0;
      if (s.size() < p + 6 || !digits(s, p + 1, 2, oh) || s[p + 3] != ':' ||
          !digits(s, p + 4, 2, om))
        return refuse("the UTC offset must be Z or +hh:mm / -hh:mm");
      if (oh > 23 || om > 59)
        return refuse("UTC offset " + std::string(s.substr(p, 6)) +
                      " is out of range (-23:59..+23:59)");
      offset_s = (oh * 3600 + om * 60) * (s[p] == '+' ? 1 : -1);
      p += 6;
    } else {
      return refuse(std::string(kExpected));
    }
    if (p != s.size()) return refuse(std::string(kExpected));
  }
  // At most ~3.2e11 seconds either side of the epoch for years 0000..9999: no overflow here;
  // the nanoseconds are computed in 128 bits and compared with the int64 range.
  const int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + se - offset_s;
  const __int128 ns = static_cast<__int128>(secs) * 1000000000 + frac_ns;
  if (ns < INT64_MIN) {
    if (bound == TimeBound::kFrom) return ParsedTime{INT64_MIN, {}};
    return refuse(
        "'" + std::string(s) + "' is before " + std::string(kMinTimeText) +
        ", the earliest time that can be represented (UTC nanoseconds in 64 bits)" +
        (bound == TimeBound::kUntil ? ": a validity window ending then contains no time" : ""));
  }
  if (ns > INT64_MAX) {
    if (bound == TimeBound::kUntil) return ParsedTime{INT64_MAX, {}};
    return refuse(
        "'" + std::string(s) + "' is after " + std::string(kMaxTimeText) +
        ", the latest time that can be represented (UTC nanoseconds in 64 bits)" +
        (bound == TimeBound::kFrom ? ": a validity window starting then contains no time" : ""));
  }
  return ParsedTime{static_cast<int64_t>(ns), {}};
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  return parse_time(s, TimeBound::kInstant).ns;
}

std::string format_rfc3339(int64_t ns) {
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  if (frac == 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                  static_cast<long long>(frac));
  }
  return buf;
}

}  // namespace assay::engine
