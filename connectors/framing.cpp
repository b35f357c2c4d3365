#include "connectors/framing.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace assay::connectors {

namespace {

// The 4-byte little-endian length prefix of a frame.
std::array<uint8_t, 4> frame_header(size_t size) {
  const uint32_t n = static_cast<uint32_t>(size);
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

}  // namespace

void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  const auto hdr = frame_header(bytes.size());
  out.insert(out.end(), hdr.begin(), hdr.end());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

FrameWriter::~FrameWriter() { close(); }

bool FrameWriter::open(const std::string& path, bool append) {
  close();
  if (path == "-") {
    f_ = stdout;
    owned_ = false;
  } else {
    f_ = std::fopen(path.c_str(), append ? "ab" : "wb");
    owned_ = true;
    if (f_ == nullptr) {
      error_ = "cannot open " + path + ": " + std::strerror(errno);
      return false;
    }
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  return true;
}

bool FrameWriter::write(std::span<const uint8_t> bytes) {
  const auto hdr = frame_header(bytes.size());
  return write_raw(hdr) && write_raw(bytes);
}

bool FrameWriter::write_raw(std::span<const uint8_t> bytes) {
  if (f_ == nullptr) {
    error_ = "writer is not open";
    return false;
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    error_ = std::string("write failed: ") + std::strerror(errno);
    return false;
  }
  bytes_ += bytes.size();
  return true;
}

bool FrameWriter::flush(bool durable) {
  if (f_ == nullptr) return true;
  if (std::fflush(f_) != 0) {
    error_ = std::string("flush failed: ") + std::strerror(errno);
    return false;
  }
  if (durable && owned_ && ::fsync(fileno(f_)) != 0) {
    error_ = std::string("fsync failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool FrameWriter::close() {
  if (f_ == nullptr) return true;
  bool ok = std::fflush(f_) == 0;
  if (owned_) ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  return ok;
}

FrameReader::~FrameReader() {
  if (f_ != nullptr && owned_) std::fclose(f_);
}

bool FrameReader::open(const std::string& path) {
  if (path == "-") {
    f_ = stdin;
    owned_ = false;
    return true;
  }
  f_ = std::fopen(path.c_str(), "rb");
  owned_ = true;
  if (f_ == nullptr) {
    error_ = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  return true;
}

FrameStatus FrameReader::next(std::vector<uint8_t>& arena, uint32_t& length, uint64_t& declared) {
  length = 0;
  declared = 0;
  if (f_ == nullptr) return FrameStatus::kIoError;
  uint8_t hdr[4];
  const size_t got_hdr = std::fread(hdr, 1, 4, f_);
  if (got_hdr == 0) {
    if (std::ferror(f_)) {
      error_ = std::strerror(errno);
      return FrameStatus::kIoError;
    }
    return FrameStatus::kEnd;
  }
  if (got_hdr < 4) {
    // A partial length prefix: keep those bytes as the truncated record.
    arena.insert(arena.end(), hdr, hdr + got_hdr);
    length = static_cast<uint32_t>(got_hdr);
    return FrameStatus::kTruncated;
  }
  declared = static_cast<uint64_t>(hdr[0]) | static_cast<uint64_t>(hdr[1]) << 8 |
             static_cast<uint64_t>(hdr[2]) << 16 | static_cast<uint64_t>(hdr[3]) << 24;
  const size_t keep = declared > max_ ? max_ : static_cast<size_t>(declared);
  const size_t base = arena.size();
  arena.resize(base + keep);
  const size_t got = keep == 0 ? 0 : std::fread(arena.data() + base, 1, keep, f_);
  arena.resize(base + got);
  length = static_cast<uint32_t>(got);
  if (got < keep) return FrameStatus::kTruncated;
  if (declared > max_) {
    // Skip the rest of the oversized frame without buffering it.
    uint64_t rest = declared - keep;
    uint8_t sink[65536];
    while (rest > 0) {
      const size_t want = rest > sizeof sink ? sizeof sink : static_cast<size_t>(rest);
      const size_t n = std::fread(sink, 1, want, f_);
      if (n == 0) return FrameStatus::kTruncated;
      rest -= n;
    }
    return FrameStatus::kTooLarge;
  }
  return FrameStatus::kOk;
}

std::vector<std::vector<uint8_t>> read_frame_file(const std::string& path, uint32_t max_frame_bytes) {
  std::vector<std::vector<uint8_t>> out;
  FrameReader r(max_frame_bytes);
  if (!r.open(path)) return out;
  for (;;) {
    std::vector<uint8_t> buf;
    uint32_t len = 0;
    uint64_t declared = 0;
    if (r.next(buf, len, declared) != FrameStatus::kOk) break;
    out.push_back(std::move(buf));
  }
  return out;
}

}  // namespace assay::connectors
