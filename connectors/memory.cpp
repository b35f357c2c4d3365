#include "connectors/memory.hpp"

#include <cstring>

namespace assay::connectors {

MemorySource::MemorySource(std::vector<std::vector<uint8_t>> records, size_t repeat,
                           std::string name)
    : records_(std::move(records)), repeat_(repeat), name_(std::move(name)) {}

namespace {

void append_frame(engine::Batch& b, const std::vector<uint8_t>& r, int64_t offset) {
  const size_t start = (b.arena.size() + 7) & ~size_t{7};
  b.arena.resize(start + r.size());
  std::memcpy(b.arena.data() + start, r.data(), r.size());
  engine::Frame f;
  f.offset = static_cast<uint32_t>(start);
  f.size = static_cast<uint32_t>(r.size());
  f.source_offset = engine::Offset(offset);
  b.frames.push_back(f);
}

}  // namespace

engine::SourceStatus MemorySource::next(engine::Batch& b, size_t max_frames) {
  if (records_.empty() || round_ >= repeat_) return engine::SourceStatus::kEnd;
  b.topic = name_;
  b.partition = engine::Partition(0);
  while (b.frames.size() < max_frames && round_ < repeat_) {
    append_frame(b, records_[pos_], offset_++);
    if (++pos_ == records_.size()) {
      pos_ = 0;
      ++round_;
    }
  }
  return engine::SourceStatus::kBatch;
}

engine::SourceStatus QueueSource::next(engine::Batch& b, size_t max_frames) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pos_ == queue_.size()) {
    queue_.clear();
    pos_ = 0;
    return closed_ ? engine::SourceStatus::kEnd : engine::SourceStatus::kIdle;
  }
  b.topic = name_;
  b.partition = engine::Partition(0);
  while (b.frames.size() < max_frames && pos_ < queue_.size()) append_frame(b, queue_[pos_++], offset_++);
  return engine::SourceStatus::kBatch;
}

void QueueSource::push(std::vector<uint8_t> record) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(record));
}

void QueueSource::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

bool MemorySink::write(std::span<const uint8_t> record, const engine::OutputMeta&,
                       uint64_t token) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    bytes_ += record.size();
    if (keep_) records_.emplace_back(record.begin(), record.end());
  }
  if (ack_) ack_(token, true);
  return true;
}

size_t MemorySink::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::vector<std::vector<uint8_t>> MemorySink::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

size_t MemorySink::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

bool MemorySink::read_back(engine::Partition, size_t, std::vector<std::vector<uint8_t>>* out,
                           std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!keep_ && count_ > 0) {
    *error = "a counting memory sink cannot read back";
    return false;
  }
  out->insert(out->end(), records_.begin(), records_.end());
  return true;
}

}  // namespace assay::connectors
