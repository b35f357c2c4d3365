#include "connectors/file_state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/files.hpp"
#include "engine/framing.hpp"
#include "engine/log.hpp"

namespace assay::connectors {

namespace {

// A frame of the checkpoint file: u32 partition | u8 n | stage (n bytes) | state record.
void put_frame(std::vector<uint8_t>& out, const std::string& stage, int32_t partition,
               const std::vector<uint8_t>& record) {
  std::vector<uint8_t> body(4 + 1 + stage.size());
  const uint32_t p = static_cast<uint32_t>(partition);
  std::memcpy(body.data(), &p, 4);
  body[4] = static_cast<uint8_t>(stage.size());
  std::memcpy(body.data() + 5, stage.data(), stage.size());
  body.insert(body.end(), record.begin(), record.end());
  engine::append_frame(out, body);
}

bool fsync_dir(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

FileStateStore::FileStateStore(std::string path) : path_(std::move(path)) {}

std::string FileStateStore::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

std::string FileStateStore::describe(size_t op, int32_t partition) const {
  std::string s = "state file '" + path_ + "'";
  if (op < stages_.size()) s += " (operator '" + stages_[op] + "'";
  if (op < stages_.size() && partition >= 0) s += ", partition " + std::to_string(partition);
  if (op < stages_.size()) s += ")";
  return s;
}

bool FileStateStore::start(const std::vector<engine::StateOperator>& ops, std::string* error) {
  stages_.clear();
  for (const auto& op : ops) {
    if (op.stage.size() > 255) {
      *error = "operator name '" + op.stage.substr(0, 40) + "...' is too long for a state file";
      return false;
    }
    stages_.push_back(op.stage);
  }
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  if (!std::filesystem::exists(path_)) return true;  // the first run
  const engine::FrameScan scan = engine::scan_frame_file(path_);
  if (!scan.ok || scan.torn()) {
    *error = "state file '" + path_ + "': " +
             (scan.ok ? "bytes after the last complete frame (at byte " +
                            std::to_string(scan.good_end) + "): a torn or altered checkpoint"
                      : scan.error);
    return false;
  }
  const std::vector<std::vector<uint8_t>> frames = engine::read_frame_file(path_);
  if (frames.size() != scan.frames) {
    *error = "state file '" + path_ + "': cannot read all of its frames";
    return false;
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    if (f.size() < 5 || f.size() < 5 + size_t{f[4]}) {
      *error = "state file '" + path_ + "' frame " + std::to_string(i) + ": malformed";
      return false;
    }
    uint32_t p = 0;
    std::memcpy(&p, f.data(), 4);
    const std::string stage(reinterpret_cast<const char*>(f.data()) + 5, f[4]);
    std::vector<uint8_t> record(f.begin() + 5 + f[4], f.end());
    engine::StateRecord rec;
    std::string reason;
    if (!engine::decode_state_record(record, &rec, &reason)) {
      *error = "state file '" + path_ + "' frame " + std::to_string(i) + ": " + reason +
               " (the pipeline does not start from empty state by itself: `assay state reset` "
               "does, and records it in the audit log)";
      return false;
    }
    entries_[{stage, static_cast<int32_t>(p), std::string(rec.key)}] = {std::move(record),
                                                                        static_cast<int64_t>(i)};
  }
  engine::log_info("state", "state file read",
                   {{"path", path_}, {"entries", std::to_string(entries_.size())}});
  return true;
}

bool FileStateStore::restore(size_t op, std::span<const engine::Partition> partitions,
                             const engine::StateRecordFn& fn, std::string* error) {
  if (op >= stages_.size()) {
    *error = "no such state operator";
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (engine::Partition part : partitions) {
    const auto lo = entries_.lower_bound({stages_[op], part.value(), std::string()});
    for (auto it = lo; it != entries_.end() && std::get<0>(it->first) == stages_[op] &&
                       std::get<1>(it->first) == part.value();
         ++it)
      if (!fn(part, it->second.first, it->second.second)) return true;
  }
  return true;
}

bool FileStateStore::write(size_t op, engine::Partition partition, std::string_view key,
                           std::span<const uint8_t> record, uint64_t token) {
  if (op >= stages_.size()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  entries_[{stages_[op], partition.value(), std::string(key)}] = {
      std::vector<uint8_t>(record.begin(), record.end()), -1};
  pending_.push_back(token);
  return true;
}

// Writes every entry to PATH.tmp, fsyncs it, renames it over PATH and fsyncs the directory;
// then acknowledges the writes it holds.
bool FileStateStore::flush(int /*timeout_ms*/) {
  std::vector<uint64_t> tokens;
  bool ok = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) return error_.empty();
    std::vector<uint8_t> out;
    for (const auto& [k, v] : entries_) put_frame(out, std::get<0>(k), std::get<1>(k), v.first);
    const std::string tmp = path_ + ".tmp";
    std::string err;
    if (!engine::write_file(tmp, {reinterpret_cast<const char*>(out.data()), out.size()}, 0644,
                            engine::Overwrite::kReplace, err)) {
      ok = false;
    } else if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
      err = std::string("rename: ") + std::strerror(errno);
      ok = false;
    } else if (!fsync_dir(path_)) {
      err = "fsync of the directory failed";
      ok = false;
    }
    if (!ok && error_.empty()) error_ = "state file '" + path_ + "': " + err;
    tokens.swap(pending_);
  }
  for (uint64_t t : tokens)
    if (ack_) ack_(t, ok);
  return ok;
}

bool FileStateStore::reset(const std::vector<engine::StateOperator>& ops, std::string* error) {
  stages_.clear();
  for (const auto& op : ops) stages_.push_back(op.stage);
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  if (ec) {
    *error = "cannot delete state file '" + path_ + "': " + ec.message();
    return false;
  }
  return true;
}

std::unique_ptr<engine::StateStore> FileStateStore::from_config(const engine::ConfigNode& state,
                                                                engine::BuildContext& ctx) {
  (void)ctx;
  const std::string path = state.get("path").as_path();
  state.finish();
  return std::make_unique<FileStateStore>(path);
}

}  // namespace assay::connectors
