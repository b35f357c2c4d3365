#include "connectors/file_source.hpp"

#include <filesystem>

namespace assay::connectors {

FileSource::FileSource(std::string path, uint32_t max_record_bytes, int64_t start_offset)
    : path_(path == "-" ? path : std::filesystem::absolute(path).lexically_normal().string()),
      max_(max_record_bytes),
      reader_(max_record_bytes),
      start_offset_(start_offset) {}

bool FileSource::check(std::string* error) {
  std::error_code ec;
  const auto st = std::filesystem::status(path_, ec);
  const char* why = nullptr;
  if (ec || !std::filesystem::exists(st))
    why = "input file does not exist";
  else if (!std::filesystem::is_regular_file(st))
    why = "input is not a regular file";
  if (why == nullptr) return true;
  *error = (where_.empty() ? path_ : where_) + ": " + why;
  return false;
}

bool FileSource::start(std::string* error) {
  if (!reader_.open(path_)) {
    *error = reader_.error();
    return false;
  }
  // Skip to start_offset (frame by frame; never more than one frame in memory).
  std::vector<uint8_t> skip;
  while (next_offset_ < start_offset_) {
    skip.clear();
    uint32_t len = 0;
    uint64_t declared = 0;
    const engine::FrameStatus st = reader_.next(skip, len, declared);
    if (st == engine::FrameStatus::kIoError) {
      *error = reader_.error();
      return false;
    }
    if (st == engine::FrameStatus::kEnd || st == engine::FrameStatus::kTruncated) {
      ended_ = st == engine::FrameStatus::kEnd;
      if (!ended_) {
        *error = path_ + ": start_offset " + std::to_string(start_offset_) +
                 " is past a truncated frame at offset " + std::to_string(next_offset_);
        return false;
      }
      break;
    }
    ++next_offset_;
  }
  return true;
}

engine::SourceStatus FileSource::next(engine::Batch& b, size_t max_frames) {
  if (ended_) return engine::SourceStatus::kEnd;
  b.topic = path_;
  b.partition = engine::Partition(0);
  // Bound the arena too, so a batch of large records stays reasonable.
  const size_t max_bytes = std::max<size_t>(size_t{8} << 20, size_t{max_} * 2);
  while (b.frames.size() < max_frames && b.arena.size() < max_bytes) {
    // Each frame starts 8-byte aligned so FlatBuffers fields are read aligned in place.
    b.arena.resize((b.arena.size() + 7) & ~size_t{7});
    const size_t start = b.arena.size();
    uint32_t len = 0;
    uint64_t declared = 0;
    const engine::FrameStatus st = reader_.next(b.arena, len, declared);
    if (st == engine::FrameStatus::kEnd) {
      ended_ = true;
      break;
    }
    if (st == engine::FrameStatus::kIoError) {
      error_ = reader_.error();
      return engine::SourceStatus::kFailed;
    }
    engine::Frame f;
    f.offset = static_cast<uint32_t>(start);
    f.size = len;
    f.source_offset = engine::Offset(next_offset_++);
    // No record time (RecordTimeType::kNone): a file carries no trustworthy time of arrival
    // (its mtime changes on copy; the wall clock differs on every re-run), so the checks that
    // compare a reading with its arrival time are off for file input and the rate limit counts
    // in sensor time (docs/drift-anomaly.md, "Time").
    if (st == engine::FrameStatus::kTruncated) f.pre_reject = engine::RejectCode::kFrameTruncated;
    if (st == engine::FrameStatus::kTooLarge) f.pre_reject = engine::RejectCode::kFrameTooLarge;
    b.frames.push_back(f);
    if (st == engine::FrameStatus::kTruncated) {
      ended_ = true;
      break;
    }
  }
  if (b.frames.empty()) return ended_ ? engine::SourceStatus::kEnd : engine::SourceStatus::kIdle;
  return engine::SourceStatus::kBatch;
}

std::unique_ptr<engine::Source> FileSource::from_config(const engine::ConfigNode& c,
                                                        engine::BuildContext& ctx) {
  // A mistyped input: `lint` warns (a config test or a pipeline whose input is written later
  // may name a file that does not exist yet), and `run` refuses it in check(), before any
  // output is touched.
  const engine::ConfigNode path = c.get("path");
  auto s = std::make_unique<FileSource>(path.as_path(), ctx.engine.max_record_bytes,
                                        c.get_int("start_offset", 0, 0, INT64_MAX));
  s->where_ = path.location() + ": key '" + path.path() + "'";
  std::string why;
  if (!s->check(&why)) ctx.warn(path, why.substr(s->where_.size() + 2));
  return s;
}

}  // namespace assay::connectors
