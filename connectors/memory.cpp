#include "connectors/memory.hpp"

#include <cstring>

namespace assay::connectors {

MemorySource::MemorySource(std::vector<std::vector<uint8_t>> records, size_t repeat,
                           std::string name)
    : records_(std::move(records)), repeat_(repeat), name_(std::move(name)) {}

engine::SourceStatus MemorySource::next(engine::Batch& b, size_t max_frames) {
  if (records_.empty() || round_ >= repeat_) return engine::SourceStatus::kEnd;
  b.topic = name_;
  b.partition = engine::Partition(0);
  while (b.frames.size() < max_frames && round_ < repeat_) {
    const auto& r = records_[pos_];
    const size_t start = (b.arena.size() + 7) & ~size_t{7};
    b.arena.resize(start + r.size());
    std::memcpy(b.arena.data() + start, r.data(), r.size());
    engine::Frame f;
    f.offset = static_cast<uint32_t>(start);
    f.size = static_cast<uint32_t>(r.size());
    f.source_offset = engine::Offset(offset_++);
    b.frames.push_back(f);
    if (++pos_ == records_.size()) {
      pos_ = 0;
      ++round_;
    }
  }
  return engine::SourceStatus::kBatch;
}

bool MemorySink::write(std::span<const uint8_t> record, const engine::OutputMeta&,
                       uint64_t token) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    if (keep_) records_.emplace_back(record.begin(), record.end());
  }
  if (ack_) ack_(token, true);
  return true;
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
