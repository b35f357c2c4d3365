#pragma once
/// \file Writing small files (registries, keys, secrets) with an explicit mode.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace assay::engine {

/// How write_file treats an existing file.
enum class Overwrite { kReplace, kRefuse };

/// Writes `content` to `path` with permissions `mode` (also applied to a replaced file, so a
/// secret never keeps a wider mode), fsyncs and closes. False with `error` on any failure.
bool write_file(const std::string& path, std::string_view content, mode_t mode, Overwrite overwrite,
                std::string& error);

/// Modification time of `path` in ns since the epoch; 0 if it cannot be stat'ed (for
/// polling watched files: registries, certificates).
int64_t file_mtime_ns(const std::string& path);

}  // namespace assay::engine
