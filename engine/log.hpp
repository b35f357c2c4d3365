#pragma once
/// \file Structured log lines (logfmt: `ts=... level=info component=... msg="..." key=value`),
/// written to stderr. Never log secrets: values passed here are printed as given.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace assay::engine {

/// Severity of a log line.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// One key=value field of a log line.
using LogField = std::pair<std::string_view, std::string>;

/// Sets the minimum level printed (default kInfo; ASSAY_LOG_LEVEL=debug|info|warn|error overrides).
void set_log_level(LogLevel level);

/// Emits one structured line atomically (thread-safe).
void log(LogLevel level, std::string_view component, std::string_view msg,
         std::initializer_list<LogField> fields = {});

/// Convenience wrappers.
inline void log_info(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kInfo, c, m, f);
}
/// \copydoc log_info
inline void log_warn(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kWarn, c, m, f);
}
/// \copydoc log_info
inline void log_error(std::string_view c, std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kError, c, m, f);
}

}  // namespace assay::engine
