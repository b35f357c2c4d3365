#include "connectors/file_sink.hpp"

#include "connectors/record_json.hpp"

namespace assay::connectors {

FileSink::FileSink(std::string path, FileFormat format, bool fsync)
    : path_(std::move(path)), format_(format), fsync_(fsync) {}

bool FileSink::start(std::string* error) {
  if (!writer_.open(path_)) {
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

std::string FileSink::describe() const {
  return (format_ == FileFormat::kFramed ? "file:" : "jsonl:") + path_;
}

std::unique_ptr<engine::Sink> FileSink::from_config(const engine::ConfigNode& c, engine::Route,
                                                    engine::BuildContext&) {
  const std::string type = c.get("type").as_string();
  return std::make_unique<FileSink>(c.get("path").as_path(),
                                    type == "jsonl" ? FileFormat::kJsonLines : FileFormat::kFramed,
                                    c.get_bool("fsync", false));
}

}  // namespace assay::connectors
