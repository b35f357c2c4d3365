#include "connectors/file_sink.hpp"

#include <filesystem>

#include "connectors/record_json.hpp"
#include "engine/audit_log.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"

namespace assay::connectors {

FileSink::FileSink(std::string path, FileFormat format, bool fsync, bool append, bool write_through,
                   std::shared_ptr<engine::AuditLog> audit, prometheus::Counter* recovered)
    : path_(std::move(path)),
      format_(format),
      fsync_(fsync),
      append_(append),
      audit_(std::move(audit)),
      recovered_(recovered),
      writer_(write_through ? 0 : size_t{1} << 20) {}

bool FileSink::start(std::string* error) {
  if (append_ && format_ == FileFormat::kFramed && path_ != "-") {
    // Walk the length prefixes (never trusting one beyond the file's size). A torn last frame
    // is what a crash inside a write leaves: set it aside and continue after the last whole
    // frame. Anything else that does not end on a frame boundary is refused.
    const engine::FrameScan scan = engine::scan_frame_file(path_);
    if (!scan.ok) {
      *error = "cannot append to " + path_ + ": " + scan.error;
      return false;
    }
    if (scan.torn()) {
      const uint64_t torn = scan.file_size - scan.good_end;
      if (scan.torn_declared > (uint64_t{1} << 30)) {
        *error = "cannot append to " + path_ + ": after " + std::to_string(scan.frames) +
                 " complete frames, bytes " + std::to_string(scan.good_end) + ".." +
                 std::to_string(scan.file_size) + " do not begin a frame (length prefix " +
                 std::to_string(scan.torn_declared) + "); not an Assay record file?";
        return false;
      }
      engine::MovedTail moved;
      std::string why;
      if (!engine::move_file_tail(path_, scan.good_end, "torn", &moved, &why)) {
        *error = "cannot append to " + path_ + ": its last frame is torn and could not be set " +
                 "aside: " + why;
        return false;
      }
      engine::log_error("sink",
                        "torn last frame set aside (a crash inside a write); appending "
                        "after the last whole frame",
                        {{"file", path_},
                         {"byte", std::to_string(scan.good_end)},
                         {"bytes", std::to_string(torn)},
                         {"frames_kept", std::to_string(scan.frames)},
                         {"moved_to", moved.moved_to}});
      if (recovered_ != nullptr) recovered_->Increment();
      if (audit_)
        audit_->record("sink.torn_frame_recovered", {{"file", path_},
                                                     {"byte", std::to_string(scan.good_end)},
                                                     {"bytes", std::to_string(moved.bytes)},
                                                     {"frames_kept", std::to_string(scan.frames)},
                                                     {"moved_to", moved.moved_to},
                                                     {"sha256", moved.sha256_hex}});
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

bool FileSink::hand_over() {
  const uint64_t before = writer_.units_handed();
  const bool ok = writer_.drain();
  // Units are handed over whole and in order: the first (handed - before) tokens made it.
  uint64_t done = writer_.units_handed() - before;
  while (done > 0 && !unacked_.empty()) {
    if (ack_) ack_(unacked_.front(), true);
    unacked_.pop_front();
    --done;
  }
  if (!ok) {
    for (uint64_t t : unacked_)
      if (ack_) ack_(t, false);
    unacked_.clear();
  }
  return ok;
}

bool FileSink::write(std::span<const uint8_t> record, const engine::OutputMeta&, uint64_t token) {
  const uint64_t handed = writer_.units_handed();
  bool ok;
  unacked_.push_back(token);
  if (format_ == FileFormat::kFramed) {
    ok = writer_.write(record);
  } else {
    line_.clear();
    record_to_json(record, line_);
    line_.push_back('\n');
    ok = writer_.write_raw({reinterpret_cast<const uint8_t*>(line_.data()), line_.size()});
  }
  // The writer drains by itself when its buffer is full (or at once, writing through).
  if (!ok || writer_.units_handed() != handed) {
    uint64_t done = writer_.units_handed() - handed;
    while (done > 0 && !unacked_.empty()) {
      if (ack_) ack_(unacked_.front(), true);
      unacked_.pop_front();
      --done;
    }
    if (!ok) {
      for (uint64_t t : unacked_)
        if (ack_) ack_(t, false);
      unacked_.clear();
    }
  }
  return ok;
}

void FileSink::poll() {
  hand_over();
}

bool FileSink::flush(int) {
  if (!hand_over()) return false;
  return writer_.flush(fsync_);
}

void FileSink::stop() {
  hand_over();
  writer_.close();
}

bool FileSink::read_back(engine::Partition, size_t, std::vector<std::vector<uint8_t>>* out,
                         std::string* error) {
  if (format_ != FileFormat::kFramed) {
    *error = "a jsonl sink cannot be read back; use type: file";
    return false;
  }
  if (!hand_over()) {
    *error = writer_.error();
    return false;
  }
  engine::FrameReader r(UINT32_MAX);
  if (!r.open(path_)) return true;  // nothing written yet
  for (;;) {
    std::vector<uint8_t> rec;
    uint32_t len = 0;
    uint64_t declared = 0;
    const engine::FrameStatus st = r.next(rec, len, declared);
    if (st == engine::FrameStatus::kEnd) return true;
    if (st != engine::FrameStatus::kOk) {
      *error =
          path_ + ": unreadable or truncated frame at byte " + std::to_string(r.frame_position());
      return false;
    }
    out->push_back(std::move(rec));
  }
}

bool FileSink::quarantine_tail(engine::Partition, size_t records, std::string* where,
                               std::string* error) {
  if (format_ != FileFormat::kFramed || path_ == "-") {
    *error = "only a framed file sink can set records aside";
    return false;
  }
  if (!hand_over()) {
    *error = writer_.error();
    return false;
  }
  const engine::FrameScan scan = engine::scan_frame_file(path_, records);
  if (!scan.ok || scan.torn() || scan.last_starts.size() < records || records == 0) {
    *error = scan.ok ? path_ + " does not hold " + std::to_string(records) + " whole frames"
                     : scan.error;
    return false;
  }
  engine::MovedTail moved;
  if (!engine::move_file_tail(path_, scan.last_starts.front(), "quarantine", &moved, error))
    return false;
  *where = moved.moved_to + " (" + std::to_string(records) + " frames, " +
           std::to_string(moved.bytes) + " bytes, sha256 " + moved.sha256_hex + ")";
  return true;
}

std::string FileSink::describe() const {
  return (format_ == FileFormat::kFramed ? "file:" : "jsonl:") + path_;
}

std::unique_ptr<engine::Sink> FileSink::from_config(const engine::ConfigNode& c,
                                                    engine::Route route,
                                                    engine::BuildContext& ctx) {
  const std::string type = c.get("type").as_string();
  const bool jsonl = type == "jsonl";
  const bool append = c.get_bool("append", false);
  if (jsonl && append)
    c.get("append").fail(
        "append: true is only for type: file (a jsonl file is for people to read "
        "and cannot be continued safely)");
  prometheus::Counter* recovered =
      &ctx.metrics
           .counters("assay_sink_torn_frames_recovered_total",
                     "Torn last frames set aside when a file sink started (after a crash)")
           .Add({{"pipeline", ctx.pipeline.name},
                 {"route", std::string(engine::route_name(route))}});
  return std::make_unique<FileSink>(
      c.get("path").as_path(), jsonl ? FileFormat::kJsonLines : FileFormat::kFramed,
      c.get_bool("fsync", false), append, route == engine::Route::kAttestations, ctx.pipeline.audit,
      recovered);
}

}  // namespace assay::connectors
