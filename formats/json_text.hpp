#pragma once
/// \file Writing a JSON string literal (RFC 8259 §7) into a caller buffer: the parsers use it
/// to keep unmapped nested values as compact JSON text.

#include <cstddef>
#include <string_view>

namespace assay::formats {

/// Bytes json_escape_into() writes for `s`, quotes included.
size_t json_escaped_size(std::string_view s);

/// Writes `s` as a quoted JSON string: '"' and '\\' escaped, control characters as \b \f \n
/// \r \t or \u00XX, everything else (valid UTF-8) as is. `out` must hold
/// json_escaped_size(s) bytes.
void json_escape_into(std::string_view s, char* out);

}  // namespace assay::formats
