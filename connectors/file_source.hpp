#pragma once
/// \file Source reading a framed Assay record file (engine/framing.hpp). Offsets are frame
/// indices; the partition is 0; the topic (the records' source_topic) is the file's absolute
/// path. Truncated and oversized frames become input rows that the
/// decode stage rejects, so the rest of the file is still processed. A restart reads the file
/// from its start again, or from `start_offset` (frames before it are skipped, offsets keep
/// counting from 0): the provenance operator refuses to append a second copy of frames its
/// chain already holds and names the offset to resume at (docs/provenance.md).

#include <memory>
#include <string>

#include "engine/framing.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

/// Reads frames from a file ("-" = stdin).
class FileSource final : public engine::Source {
 public:
  /// `start_offset`: frames before it are skipped.
  FileSource(std::string path, uint32_t max_record_bytes, int64_t start_offset = 0);
  bool start(std::string* error) override;
  engine::SourceStatus next(engine::Batch& batch, size_t max_frames) override;
  std::vector<std::string> files() const override { return {path_}; }
  /// The file exists and is a regular file (error located at `input.path`).
  bool check(std::string* error) override;
  std::string describe() const override { return "file:" + path_; }
  std::string error() const override { return error_; }

  /// Builds from `{type: file, path: P, start_offset: N}`.
  static std::unique_ptr<engine::Source> from_config(const engine::ConfigNode& config,
                                                     engine::BuildContext& ctx);

 private:
  std::string where_;  ///< "file:line:column: key 'input.path'" of the config, if built from one
  std::string path_;
  uint32_t max_;
  engine::FrameReader reader_;
  int64_t start_offset_ = 0;
  int64_t next_offset_ = 0;
  bool ended_ = false;
  std::string error_;
};

}  // namespace assay::connectors
