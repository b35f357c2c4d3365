#pragma once
/// \file Time helpers: UTC nanoseconds and RFC 3339 text.
///
/// Every timestamp in Assay is an int64 count of nanoseconds since 1970-01-01T00:00:00Z
/// (POSIX time: no leap seconds). That covers kMinTimeText .. kMaxTimeText (1677-09-21 to
/// 2262-04-11). Text outside that range is never wrapped: an instant there is refused, and a
/// bound of a validity window there means "unbounded on that side" (see TimeBound and
/// docs/config-reference.md, "Dates and times").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace assay::engine {

/// Current UTC time in nanoseconds since the Unix epoch.
int64_t now_ns();

/// Monotonic clock in nanoseconds (for durations).
int64_t monotonic_ns();

/// The earliest representable time (INT64_MIN ns), as RFC 3339.
inline constexpr std::string_view kMinTimeText = "1677-09-21T00:12:43.145224192Z";
/// The latest representable time (INT64_MAX ns), as RFC 3339.
inline constexpr std::string_view kMaxTimeText = "2262-04-11T23:47:16.854775807Z";

/// What a parsed time is, which decides how text outside the representable range is read.
enum class TimeBound {
  /// A point in time (a reading's time, an issue date): refused outside the range.
  kInstant,
  /// The first instant of a validity window: before the range = unbounded (INT64_MIN); after
  /// it refused (the window could never contain a reading).
  kFrom,
  /// The last instant of a validity window: after the range = unbounded (INT64_MAX); before it
  /// refused (the window could never contain a reading).
  kUntil,
};

/// A parsed time, or why the text was refused.
struct ParsedTime {
  std::optional<int64_t> ns;  ///< UTC nanoseconds; empty when refused
  std::string error;          ///< the reason (a sentence naming the problem) when refused
};

/// Parses RFC 3339 ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.5+01:00"; 't', 'z' and a
/// space for 'T' are accepted) or a full date ("2026-01-31", midnight UTC) strictly: a day
/// that does not exist in its month, a leap second (:60, not representable in POSIX time),
/// more than 9 fractional digits, a missing UTC offset, an offset beyond ±23:59 and anything
/// else are refused with the reason. Outside the representable range, `bound` decides.
ParsedTime parse_time(std::string_view text, TimeBound bound);

/// parse_time(text, TimeBound::kInstant).ns: nullopt if malformed or not representable.
std::optional<int64_t> parse_rfc3339(std::string_view text);

/// Formats UTC nanoseconds as RFC 3339 with nanosecond precision where non-zero (every int64
/// value; parse_time reads the text back to the same value).
std::string format_rfc3339(int64_t ns);

}  // namespace assay::engine
