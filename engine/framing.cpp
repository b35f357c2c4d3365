#include "engine/framing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <deque>

#include "crypto/sha256.hpp"
#include "engine/bytes.hpp"

namespace assay::engine {

namespace {

// The 4-byte little-endian length prefix of a frame.
std::array<uint8_t, 4> frame_header(size_t size) {
  const uint32_t n = static_cast<uint32_t>(size);
  return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24)};
}

// write(2) until done; returns the bytes written (less than n on an error, errno set).
size_t write_fully(int fd, const uint8_t* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  return done;
}

}  // namespace

void append_frame(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  const auto hdr = frame_header(bytes.size());
  out.insert(out.end(), hdr.begin(), hdr.end());
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// --- FrameWriter ------------------------------------------------------------------------------

FrameWriter::~FrameWriter() {
  close();
}

bool FrameWriter::open(const std::string& path, bool append) {
  close();
  error_.clear();
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    owned_ = false;
    return true;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  owned_ = true;
  if (fd_ < 0) {
    error_ = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool FrameWriter::append_unit(std::span<const uint8_t> header, std::span<const uint8_t> bytes) {
  if (fd_ < 0) {
    error_ = "writer is not open";
    return false;
  }
  buf_.insert(buf_.end(), header.begin(), header.end());
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  bytes_ += header.size() + bytes.size();
  ++units_;
  return buf_.size() < cap_ || drain();
}

bool FrameWriter::write(std::span<const uint8_t> bytes) {
  const auto hdr = frame_header(bytes.size());
  return append_unit(hdr, bytes);
}

bool FrameWriter::write_raw(std::span<const uint8_t> bytes) {
  return append_unit({}, bytes);
}

bool FrameWriter::drain() {
  if (fd_ < 0) return buf_.empty();
  if (buf_.empty()) {
    handed_ = units_;
    return true;
  }
  struct stat st {};
  const bool regular = owned_ && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  const size_t done = write_fully(fd_, buf_.data(), buf_.size());
  if (done == buf_.size()) {
    buf_.clear();
    handed_ = units_;
    return true;
  }
  // A failed write (disk full, I/O error): never leave a partial unit behind where the file
  // can be cut back to where this drain started. Every unit of this drain counts as lost.
  error_ = std::string("write failed: ") + std::strerror(errno);
  if (regular && done > 0 && ::ftruncate(fd_, st.st_size) != 0)
    error_ += " (and the partial write could not be cut back)";
  buf_.clear();
  units_ = handed_;
  return false;
}

bool FrameWriter::flush(bool durable) {
  if (fd_ < 0) return true;
  if (!drain()) return false;
  if (durable && owned_ && ::fsync(fd_) != 0) {
    error_ = std::string("fsync failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool FrameWriter::close() {
  if (fd_ < 0) return true;
  bool ok = drain();
  if (owned_) ok = (::close(fd_) == 0) && ok;
  fd_ = -1;
  return ok;
}

// --- FrameReader ------------------------------------------------------------------------------

FrameReader::~FrameReader() {
  if (f_ != nullptr && owned_) std::fclose(f_);
}

bool FrameReader::open(const std::string& path) {
  if (path == "-") {
    f_ = stdin;
    owned_ = false;
  } else {
    f_ = std::fopen(path.c_str(), "rb");
    owned_ = true;
    if (f_ == nullptr) {
      error_ = "cannot open " + path + ": " + std::strerror(errno);
      return false;
    }
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  struct stat st {};
  regular_ = ::fstat(fileno(f_), &st) == 0 && S_ISREG(st.st_mode);
  size_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
  pos_ = 0;
  return true;
}

uint64_t FrameReader::remaining() {
  if (!regular_) return UINT64_MAX;
  if (pos_ >= size_) {  // the file may have grown since it was opened
    struct stat st {};
    if (::fstat(fileno(f_), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  return size_ > pos_ ? size_ - pos_ : 0;
}

size_t FrameReader::read_some(std::vector<uint8_t>& out, size_t n) {
  // Grow in steps no larger than what was really read, so a lying prefix on a pipe costs at
  // most one step beyond the bytes present.
  size_t got = 0;
  while (got < n) {
    const size_t step = std::min<size_t>(n - got, size_t{1} << 20);
    const size_t base = out.size();
    out.resize(base + step);
    const size_t r = std::fread(out.data() + base, 1, step, f_);
    out.resize(base + r);
    got += r;
    pos_ += r;
    if (r < step) break;
  }
  return got;
}

FrameStatus FrameReader::next(std::vector<uint8_t>& arena, uint32_t& length, uint64_t& declared) {
  length = 0;
  declared = 0;
  if (f_ == nullptr) return FrameStatus::kIoError;
  frame_pos_ = pos_;
  uint8_t hdr[4];
  const size_t got_hdr = std::fread(hdr, 1, 4, f_);
  pos_ += got_hdr;
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
  declared = load_u32(hdr);
  const uint64_t present = remaining();
  const uint64_t want = std::min<uint64_t>(declared, max_);
  const size_t keep = static_cast<size_t>(std::min<uint64_t>(want, present));
  const size_t got = read_some(arena, keep);
  length = static_cast<uint32_t>(got);
  if (std::ferror(f_)) {
    error_ = std::strerror(errno);
    return FrameStatus::kIoError;
  }
  if (got < want) return FrameStatus::kTruncated;
  if (declared > max_) {
    // Skip the rest of the oversized frame without buffering it.
    uint64_t rest = declared - keep;
    if (regular_) {
      if (rest > remaining()) {
        pos_ = size_;
        std::fseek(f_, 0, SEEK_END);
        return FrameStatus::kTruncated;
      }
      if (std::fseek(f_, static_cast<long>(rest), SEEK_CUR) != 0) {
        error_ = std::strerror(errno);
        return FrameStatus::kIoError;
      }
      pos_ += rest;
      return FrameStatus::kTooLarge;
    }
    uint8_t sink[65536];
    while (rest > 0) {
      const size_t step = rest > sizeof sink ? sizeof sink : static_cast<size_t>(rest);
      const size_t n = std::fread(sink, 1, step, f_);
      pos_ += n;
      if (n == 0) return FrameStatus::kTruncated;
      rest -= n;
    }
    return FrameStatus::kTooLarge;
  }
  return FrameStatus::kOk;
}

// --- scanning and whole-file reading ----------------------------------------------------------

FrameScan scan_frame_file(const std::string& path, size_t keep_last) {
  FrameScan s;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      s.ok = true;
      return s;
    }
    s.error = "cannot open " + path + ": " + std::strerror(errno);
    return s;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s.error = path + " is not a regular file";
    ::close(fd);
    return s;
  }
  s.file_size = static_cast<uint64_t>(st.st_size);
  uint64_t pos = 0;
  std::deque<uint64_t> last;
  while (s.file_size - pos >= 4) {
    uint8_t hdr[4];
    if (::pread(fd, hdr, 4, static_cast<off_t>(pos)) != 4) {
      s.error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return s;
    }
    const uint64_t n = load_u32(hdr);
    if (s.file_size - pos - 4 < n) {
      s.torn_declared = n;
      break;
    }
    if (keep_last > 0) {
      if (last.size() == keep_last) last.pop_front();
      last.push_back(pos);
    }
    pos += 4 + n;
    ++s.frames;
  }
  s.good_end = pos;
  s.last_starts.assign(last.begin(), last.end());
  s.ok = true;
  ::close(fd);
  return s;
}

bool move_file_tail(const std::string& path, uint64_t from, const std::string& tag, MovedTail* out,
                    std::string* error) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < from) {
    *error = path + ": shorter than the position to cut at";
    ::close(fd);
    return false;
  }
  const uint64_t n = static_cast<uint64_t>(st.st_size) - from;
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const std::string side =
      path + "." + tag + "-" +
      std::to_string(static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
  const int out_fd = ::open(side.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (out_fd < 0) {
    *error = "cannot create " + side + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  crypto::Sha256 h;
  std::vector<uint8_t> buf(size_t{1} << 16);
  uint64_t done = 0;
  bool ok = true;
  while (ok && done < n) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - done));
    const ssize_t r = ::pread(fd, buf.data(), step, static_cast<off_t>(from + done));
    if (r <= 0) {
      ok = false;
      break;
    }
    h.update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(r)));
    ok = write_fully(out_fd, buf.data(), static_cast<size_t>(r)) == static_cast<size_t>(r);
    done += static_cast<uint64_t>(r);
  }
  ok = ok && ::fsync(out_fd) == 0;
  ok = (::close(out_fd) == 0) && ok;
  if (ok) {  // the copy's directory entry too
    const auto slash = side.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : side.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  if (!ok) {
    *error = "cannot copy the tail of " + path + " to " + side + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (::ftruncate(fd, static_cast<off_t>(from)) != 0 || ::fsync(fd) != 0) {
    *error = "cannot cut " + path + " back to byte " + std::to_string(from) + ": " +
             std::strerror(errno);
    ::close(fd);
    return false;
  }
  ::close(fd);
  out->moved_to = side;
  out->bytes = n;
  out->sha256_hex = to_hex(h.final());
  return true;
}

std::vector<std::vector<uint8_t>> read_frame_file(const std::string& path,
                                                  uint32_t max_frame_bytes) {
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

}  // namespace assay::engine
