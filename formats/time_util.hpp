#pragma once
/// \file Calendar arithmetic shared by the format parsers (proleptic Gregorian, UTC).

#include <cstdint>

namespace assay::formats {

/// Converts a local civil time with a UTC offset (minutes east of UTC) to UTC nanoseconds
/// since the Unix epoch. Validates every field (month 1..12, day within the month including
/// leap years, hour 0..23, minute 0..59, second 0..59, nanos 0..999999999, year 1970..2261)
/// and returns false for anything else; the result always fits an int64.
bool civil_to_unix_ns(int year, int month, int day, int hour, int minute, int second, int32_t nanos,
                      int tz_offset_min, int64_t* out);

}  // namespace assay::formats
