#pragma once
/// \file Source reading a framed Assay record file (connectors/framing.hpp). Offsets are
/// frame indices; the partition is 0. Truncated and oversized frames become input rows that
/// the decode stage rejects, so the rest of the file is still processed.

#include <memory>
#include <string>

#include "connectors/framing.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

/// Reads frames from a file ("-" = stdin).
class FileSource final : public engine::Source {
 public:
  FileSource(std::string path, uint32_t max_record_bytes);
  bool start(std::string* error) override;
  engine::SourceStatus next(engine::Batch& batch, size_t max_frames) override;
  std::vector<std::string> files() const override { return {path_}; }
  /// The file exists and is a regular file (error located at `input.path`).
  bool check(std::string* error) override;
  std::string describe() const override { return "file:" + path_; }
  std::string error() const override { return error_; }

  /// Builds from `{type: file, path: P}`.
  static std::unique_ptr<engine::Source> from_config(const engine::ConfigNode& config,
                                                     engine::BuildContext& ctx);

 private:
  std::string where_;  ///< "file:line:column: key 'input.path'" of the config, if built from one
  std::string path_;
  uint32_t max_;
  FrameReader reader_;
  int64_t next_offset_ = 0;
  bool ended_ = false;
  std::string error_;
};

}  // namespace assay::connectors
