#pragma once
/// \file Durable operator state in a checkpoint file (`state: {type: file, path}`,
/// docs/state.md), for pipelines that read files: the latest entry of every key of every
/// stateful operator and partition, written atomically (temporary file, fsync, rename, fsync
/// of the directory) whenever the pipeline makes its outputs durable (flush at the end of a
/// run), and read back at the next start, so that a run with `append: true` outputs continues
/// with the state the previous run ended with.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "engine/state_store.hpp"

namespace assay::connectors {

/// Keeps operator state in one checkpoint file.
class FileStateStore final : public engine::StateStore {
 public:
  explicit FileStateStore(std::string path);
  bool start(const std::vector<engine::StateOperator>& ops, std::string* error) override;
  bool restore(size_t op, std::span<const engine::Partition> partitions,
               const engine::StateRecordFn& fn, std::string* error) override;
  bool write(size_t op, engine::Partition partition, std::string_view key,
             std::span<const uint8_t> record, uint64_t token) override;
  bool flush(int timeout_ms) override;
  bool reset(const std::vector<engine::StateOperator>& ops, std::string* error) override;
  std::string error() const override;
  std::string describe(size_t op, int32_t partition) const override;

  /// Builds from `{type: file, path}` (path relative to the pipeline file).
  static std::unique_ptr<engine::StateStore> from_config(const engine::ConfigNode& state,
                                                         engine::BuildContext& ctx);

 private:
  const std::string path_;
  std::vector<std::string> stages_;  ///< per state operator
  mutable std::mutex mu_;
  /// (stage, partition, key) -> stored state record, plus its frame number in the file read
  /// at start (-1: written in this run).
  std::map<std::tuple<std::string, int32_t, std::string>, std::pair<std::vector<uint8_t>, int64_t>>
      entries_;
  std::vector<uint64_t> pending_;  ///< tokens of writes not yet in the file
  std::string error_;
};

}  // namespace assay::connectors
