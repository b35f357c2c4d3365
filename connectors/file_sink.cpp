#include "connectors/file_sink.hpp"

#include <filesystem>

#include "connectors/record_json.hpp"

namespace assay::connectors {

FileSink::FileSink(std::string path, FileFormat format, bool fsync, bool append)
    : path_(std::move(path)), format_(format), fsync_(fsync), append_(append) {}

bool FileSink::start(std::string* error) {
  if (append_ && format_ == FileFormat::kFramed) {  // refuse to append after a torn frame
    FrameReader r(UINT32_MAX);
    if (r.open(path_)) {
      std::vector<uint8_t> buf;
      uint32_t len = 0;
      uint64_t declared = 0;
      uint64_t frames = 0;
      FrameStatus st;
      while ((st = r.next(buf, len, declared)) == FrameStatus::kOk) {
        ++frames;
        buf.clear();
      }
      if (st != FrameStatus::kEnd) {
        *error = "cannot append to " + path_ + ": it does not end on a frame boundary (after " +
                 std::to_string(frames) + " complete frames)";
        return false;
      }
    }
  }
  // A route's output directory is created as needed (like the demo's out/).
  if (path_ != "-") {
    const auto dir = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  }
  if (!writer_.open(path_, append_)) {
    *error = writer_.error();
    return false;
  }
  return true;
}

bool FileSink::write(std::span<const uint8_t> record, const engine::OutputMeta&, uint64_t token) {
  bool ok;
  if (format_ == FileFormat::kFramed) {
    ok = writer_.write(record);
  } else {
    line_.clear();
    record_to_json(record, line_);
    line_.push_back('\n');
    ok = writer_.write_raw({reinterpret_cast<const uint8_t*>(line_.data()), line_.size()});
  }
  if (ack_) ack_(token, ok);
  return ok;
}

bool FileSink::flush(int) { return writer_.flush(fsync_); }

void FileSink::stop() { writer_.close(); }

bool FileSink::read_back(engine::Partition, size_t, std::vector<std::vector<uint8_t>>* out,
                         std::string* error) {
  if (format_ != FileFormat::kFramed) {
    *error = "a jsonl sink cannot be read back; use type: file";
    return false;
  }
  if (!writer_.flush(false)) {
    *error = writer_.error();
    return false;
  }
  for (auto& rec : read_frame_file(path_)) out->push_back(std::move(rec));
  return true;
}

std::string FileSink::describe() const {
  return (format_ == FileFormat::kFramed ? "file:" : "jsonl:") + path_;
}

std::unique_ptr<engine::Sink> FileSink::from_config(const engine::ConfigNode& c, engine::Route,
                                                    engine::BuildContext&) {
  const std::string type = c.get("type").as_string();
  return std::make_unique<FileSink>(c.get("path").as_path(),
                                    type == "jsonl" ? FileFormat::kJsonLines : FileFormat::kFramed,
                                    c.get_bool("fsync", false), c.get_bool("append", false));
}

}  // namespace assay::connectors
