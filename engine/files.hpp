#pragma once
/// \file Writing small files (registries, keys, secrets) with an explicit mode.

#include <sys/types.h>

#include <string>
#include <string_view>

namespace assay::engine {

/// How write_file treats an existing file.
enum class Overwrite { kReplace, kRefuse };

/// Writes `content` to `path` with permissions `mode` (also applied to a replaced file, so a
/// secret never keeps a wider mode), fsyncs and closes. False with `error` on any failure.
bool write_file(const std::string& path, std::string_view content, mode_t mode, Overwrite overwrite,
                std::string& error);

}  // namespace assay::engine
