#pragma once
/// \file Time helpers: UTC nanoseconds and RFC 3339 text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace assay::engine {

/// Current UTC time in nanoseconds since the Unix epoch.
int64_t now_ns();

/// Monotonic clock in nanoseconds (for durations).
int64_t monotonic_ns();

/// Parses RFC 3339 ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.5+01:00", or a date
/// "2026-01-31" meaning midnight UTC) into UTC nanoseconds; nullopt if malformed.
std::optional<int64_t> parse_rfc3339(std::string_view text);

/// Formats UTC nanoseconds as RFC 3339 with nanosecond precision where non-zero.
std::string format_rfc3339(int64_t ns);

}  // namespace assay::engine
