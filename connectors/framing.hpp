#pragma once
/// \file Assay record files: frames of a 4-byte little-endian length followed by one
/// FlatBuffers buffer, repeated. Readers never trust the length: a frame longer than the
/// configured limit or running past the end of the file is reported, not read blindly.

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace assay::connectors {

/// Appends one frame (length prefix + bytes) to `out`.
void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);

/// Buffered writer of framed record files.
class FrameWriter {
 public:
  FrameWriter() = default;
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;
  ~FrameWriter();

  /// Opens (truncates, or appends to when `append`) `path`; "-" is stdout. Returns false and
  /// sets error() on failure.
  bool open(const std::string& path, bool append = false);
  /// Writes one frame. Returns false on an I/O error.
  bool write(std::span<const uint8_t> bytes);
  /// Writes raw bytes without a frame header (for JSON-lines files).
  bool write_raw(std::span<const uint8_t> bytes);
  /// Flushes buffered data to the operating system (and fsyncs if `durable`).
  bool flush(bool durable = false);
  /// Flushes and closes. Safe to call twice.
  bool close();
  /// Last error text.
  const std::string& error() const { return error_; }
  /// Bytes written so far.
  uint64_t bytes_written() const { return bytes_; }

 private:
  std::FILE* f_ = nullptr;
  bool owned_ = false;
  uint64_t bytes_ = 0;
  std::string error_;
};

/// Outcome of reading one frame.
enum class FrameStatus {
  kOk,         ///< a complete frame was read
  kTooLarge,   ///< the length prefix exceeds the limit; the frame was skipped (first bytes kept)
  kTruncated,  ///< the file ended inside the frame (the bytes present were kept)
  kEnd,        ///< clean end of file
  kIoError,    ///< read error
};

/// Sequential reader of framed record files.
class FrameReader {
 public:
  /// `max_frame_bytes`: frames longer than this are skipped and reported as kTooLarge.
  explicit FrameReader(uint32_t max_frame_bytes) : max_(max_frame_bytes) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;
  ~FrameReader();

  /// Opens `path` ("-" is stdin).
  bool open(const std::string& path);
  /// Reads the next frame and appends its payload (or, for kTooLarge/kTruncated, up to
  /// `max_frame_bytes` of what was there) to `arena`; `length` receives the number of bytes
  /// appended and `declared` the length prefix.
  FrameStatus next(std::vector<uint8_t>& arena, uint32_t& length, uint64_t& declared);
  /// Last error text.
  const std::string& error() const { return error_; }

 private:
  std::FILE* f_ = nullptr;
  bool owned_ = false;
  uint32_t max_;
  std::string error_;
};

/// Reads every complete frame of a file (stops at the end, a truncated or an oversized frame).
/// For tools and tests; pipelines use FileSource.
std::vector<std::vector<uint8_t>> read_frame_file(const std::string& path,
                                                  uint32_t max_frame_bytes = 1u << 30);

}  // namespace assay::connectors
