#pragma once
/// \file Assay record files, the one implementation (file sources and sinks, the audit log,
/// `verify-audit`, `verify-stream`, `prove`, `inspect`): frames of a 4-byte little-endian
/// length followed by one FlatBuffers buffer, repeated.
///
/// Readers never trust a length prefix: a frame is read incrementally and never allocated
/// beyond the bytes the file really holds (its size, for a regular file) or the configured
/// limit, so an 8-byte file claiming 4 GiB costs 8 bytes. Writers hand only whole frames to
/// the operating system, so a killed process leaves complete frames behind (or, if it dies
/// inside a write(2), one torn last frame that scan_frame_file() finds and a sink recovers).

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace assay::engine {

/// Appends one frame (length prefix + bytes) to `out`.
void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);

/// Buffered writer of framed record files (and JSON-lines files, through write_raw()). Writes
/// go to an own buffer and reach the operating system, whole, when the buffer is full, on
/// drain()/flush() and on close(); a failed write truncates the file back to its last whole
/// unit where it can.
class FrameWriter {
 public:
  /// `buffer_bytes`: the buffer drains when it holds at least this many bytes (0: every unit
  /// is written through at once).
  explicit FrameWriter(size_t buffer_bytes = size_t{1} << 20) : cap_(buffer_bytes) {}
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;
  ~FrameWriter();

  /// Opens (truncates, or appends to when `append`) `path`; "-" is stdout. Returns false and
  /// sets error() on failure.
  bool open(const std::string& path, bool append = false);
  /// Writes one frame (one unit). Returns false on an I/O error.
  bool write(std::span<const uint8_t> bytes);
  /// Writes raw bytes without a frame header as one unit (a JSON line, or test data).
  bool write_raw(std::span<const uint8_t> bytes);
  /// Hands every buffered unit to the operating system. False on an I/O error.
  bool drain();
  /// drain(), then fsync if `durable`.
  bool flush(bool durable = false);
  /// Flushes and closes. Safe to call twice.
  bool close();
  /// Last error text.
  const std::string& error() const { return error_; }
  /// Bytes accepted so far (buffered or written).
  uint64_t bytes_written() const { return bytes_; }
  /// Units (frames or raw writes) accepted so far.
  uint64_t units_written() const { return units_; }
  /// Units handed to the operating system so far (every unit before it, whole).
  uint64_t units_handed() const { return handed_; }
  /// True while open.
  bool is_open() const { return fd_ >= 0; }
  /// The file descriptor (-1 when closed), for fsync/ftruncate by the owner.
  int fd() const { return fd_; }

 private:
  bool append_unit(std::span<const uint8_t> header, std::span<const uint8_t> bytes);

  size_t cap_;
  int fd_ = -1;
  bool owned_ = false;
  std::vector<uint8_t> buf_;
  uint64_t bytes_ = 0, units_ = 0, handed_ = 0;
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
  /// appended and `declared` the length prefix. Never allocates more than the bytes present.
  FrameStatus next(std::vector<uint8_t>& arena, uint32_t& length, uint64_t& declared);
  /// Byte position in the file of the frame last returned by next() (its length prefix).
  uint64_t frame_position() const { return frame_pos_; }
  /// Last error text.
  const std::string& error() const { return error_; }

 private:
  // Reads up to `n` bytes at the current position into `out` (appending); returns how many.
  size_t read_some(std::vector<uint8_t>& out, size_t n);
  // Bytes known to remain in a regular file (refreshed when exhausted); SIZE_MAX if unknown.
  uint64_t remaining();

  std::FILE* f_ = nullptr;
  bool owned_ = false;
  bool regular_ = false;
  uint64_t size_ = 0, pos_ = 0, frame_pos_ = 0;
  uint32_t max_;
  std::string error_;
};

/// The shape of a framed file, from its length prefixes alone (payloads are not read).
struct FrameScan {
  bool ok = false;             ///< false: the file could not be read (error set)
  uint64_t frames = 0;         ///< complete frames
  uint64_t good_end = 0;       ///< byte just after the last complete frame
  uint64_t file_size = 0;      ///< bytes in the file
  uint64_t torn_declared = 0;  ///< length prefix of the incomplete last frame (0: none or unknown)
  /// Byte positions of the last `keep_last` complete frames (oldest first).
  std::vector<uint64_t> last_starts;
  std::string error;
  /// True if bytes follow the last complete frame (a torn or garbled tail).
  bool torn() const { return ok && good_end < file_size; }
};

/// Walks the length prefixes of `path` (pread, never allocating a payload). A missing file
/// scans as empty and ok.
FrameScan scan_frame_file(const std::string& path, size_t keep_last = 0);

/// What move_file_tail() did.
struct MovedTail {
  std::string moved_to;    ///< the file that now holds the bytes
  uint64_t bytes = 0;      ///< how many bytes were moved
  std::string sha256_hex;  ///< SHA-256 of the moved bytes
};

/// Moves the bytes of `path` from byte `from` to its end into a new file next to it,
/// `PATH.TAG-<unix ns>` (written and fsynced first), then cuts `path` back to `from` and
/// fsyncs it. Used to recover a torn last frame and to quarantine records that cannot be
/// attested: nothing is deleted. False with a message if any step fails (the original is
/// then cut only if the copy is durable).
bool move_file_tail(const std::string& path, uint64_t from, const std::string& tag, MovedTail* out,
                    std::string* error);

/// Reads every complete frame of a file (stops at the end, a truncated or an oversized frame).
/// For tools and tests; pipelines use FileSource.
std::vector<std::vector<uint8_t>> read_frame_file(const std::string& path,
                                                  uint32_t max_frame_bytes = 1u << 30);

}  // namespace assay::engine
