#include "engine/audit_log.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/sha256.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/time.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::engine {

namespace {

constexpr std::string_view kCanonicalTag = "assay.audit.v1\n";

std::string_view sv(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : s->string_view();
}

std::string random_log_id() {
  std::array<uint8_t, 16> id{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
    const uint64_t t = static_cast<uint64_t>(now_ns()) ^ static_cast<uint64_t>(getpid());
    std::memcpy(id.data(), &t, sizeof t);
  }
  return to_hex(id);
}

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::vector<uint8_t> audit_canonical_bytes(uint64_t seq, int64_t time_ns, std::string_view type,
                                           std::string_view log_id, std::string_view instance_id,
                                           std::string_view pipeline_name,
                                           std::string_view engine_key_id,
                                           const AuditDetails& details) {
  std::vector<uint8_t> out(kCanonicalTag.begin(), kCanonicalTag.end());
  put_u64(out, seq);
  put_u64(out, static_cast<uint64_t>(time_ns));
  for (std::string_view s : {type, log_id, instance_id, pipeline_name, engine_key_id})
    put_str(out, s);
  put_u32(out, static_cast<uint32_t>(details.size()));
  for (const auto& [k, v] : details) {
    put_str(out, k);
    put_str(out, v);
  }
  return out;
}

std::vector<uint8_t> audit_canonical_bytes(const wire::AuditEvent& e) {
  AuditDetails details;
  if (e.details() != nullptr) {
    for (const auto* d : *e.details())
      details.emplace_back(std::string(sv(d->key())), std::string(sv(d->value())));
  }
  return audit_canonical_bytes(e.seq(), e.time_ns(), sv(e.type()), sv(e.log_id()),
                               sv(e.instance_id()), sv(e.pipeline_name()), sv(e.engine_key_id()),
                               details);
}

std::array<uint8_t, 32> audit_record_hash(std::span<const uint8_t> prev_hash,
                                          std::span<const uint8_t> canonical) {
  crypto::Sha256 h;
  h.update(prev_hash);
  h.update(canonical);
  return h.final();
}

std::string binary_sha256_hex() {
  return file_sha256_hex("/proc/self/exe");
}

std::string file_sha256_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  crypto::Sha256 h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return to_hex(h.final());
}

AuditLog::AuditLog(AuditOptions options, std::shared_ptr<const EngineKey> key,
                   std::unique_ptr<AuditPublisher> publisher, Metrics* metrics)
    : options_(std::move(options)), key_(std::move(key)), publisher_(std::move(publisher)) {
  if (metrics != nullptr) {
    events_metric_ = &metrics->counters("assay_audit_events_total", "Audit events written")
                          .Add({{"pipeline", options_.pipeline_name}});
    failures_metric_ =
        &metrics->counters("assay_audit_failures_total", "Audit events not written or delivered")
             .Add({{"pipeline", options_.pipeline_name}, {"target", "file"}});
  }
}

AuditLog::~AuditLog() {
  close();
}

bool AuditLog::restore_locked(std::string* error, std::string* previous_key_id) {
  FrameScan scan = scan_frame_file(options_.file, 1);
  if (!scan.ok) {
    *error = scan.error;
    return false;
  }
  if (scan.torn()) {
    // A frame the engine began but never finished (a crash inside write(2)): the event was
    // never recorded, so cutting it off loses nothing; its bytes are kept next to the log and
    // the recovery is the first event written (docs/audit-log.md).
    const uint64_t at = scan.good_end, torn = scan.file_size - scan.good_end;
    if (scan.torn_declared > (uint64_t{1} << 26)) {
      *error = "bytes " + std::to_string(at) + ".." + std::to_string(scan.file_size) +
               " are not a frame (length prefix " + std::to_string(scan.torn_declared) +
               "); not an audit log, or damaged";
      return false;
    }
    MovedTail moved;
    std::string why;
    if (!move_file_tail(options_.file, at, "torn", &moved, &why)) {
      *error = "torn last frame at byte " + std::to_string(at) + " could not be set aside: " + why;
      return false;
    }
    log_error("audit", "torn last frame of the audit log set aside (a crash inside a write)",
              {{"file", options_.file},
               {"byte", std::to_string(at)},
               {"bytes", std::to_string(torn)},
               {"moved_to", moved.moved_to}});
    recovered_ = AuditDetails{{"file", options_.file},
                              {"byte", std::to_string(at)},
                              {"bytes", std::to_string(moved.bytes)},
                              {"moved_to", moved.moved_to},
                              {"sha256", moved.sha256_hex}};
  }
  const uint64_t count = scan.frames;
  if (count == 0) return true;  // a new log
  const uint64_t last = scan.last_starts.back() + 4;
  const size_t last_size = static_cast<size_t>(scan.good_end - last);
  std::string data(last_size, '\0');
  {
    std::ifstream in(options_.file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(last));
    if (!in.read(data.data(), static_cast<std::streamsize>(last_size))) {
      *error = "cannot read the last event at byte " + std::to_string(last - 4);
      return false;
    }
  }
  // Copy to aligned storage for the FlatBuffers Verifier.
  std::vector<uint64_t> aligned((last_size + 7) / 8 + 1);
  if (last_size > 0) std::memcpy(aligned.data(), data.data(), last_size);
  const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  const std::string where = "last event (frame " + std::to_string(count - 1) + " at byte " +
                            std::to_string(last - 4) + ")";
  flatbuffers::Verifier v(bytes, last_size);
  if (last_size < 8 || !wire::AuditEventBufferHasIdentifier(bytes) ||
      !wire::VerifyAuditEventBuffer(v)) {
    *error = where + " is not a valid AuditEvent";
    return false;
  }
  const wire::AuditEvent* e = wire::GetAuditEvent(bytes);
  if (e->prev_hash() == nullptr || e->prev_hash()->size() != 32 || e->record_hash() == nullptr ||
      e->record_hash()->size() != 32 || e->signature() == nullptr || e->signature()->size() != 64) {
    *error = where + " lacks prev_hash, record_hash or signature";
    return false;
  }
  if (e->seq() != count - 1) {
    *error =
        where + " has seq " + std::to_string(e->seq()) + ", expected " + std::to_string(count - 1);
    return false;
  }
  const auto canonical = audit_canonical_bytes(*e);
  const auto hash = audit_record_hash({e->prev_hash()->data(), 32}, canonical);
  if (std::memcmp(hash.data(), e->record_hash()->data(), 32) != 0) {
    *error = where + " (seq " + std::to_string(e->seq()) + ") does not match its record_hash";
    return false;
  }
  if (sv(e->engine_key_id()) == key_->key_id()) {
    if (!verify_engine_signature(key_->public_key(), hash, {e->signature()->data(), 64})) {
      *error = where + " (seq " + std::to_string(e->seq()) + ") has a bad signature for key " +
               key_->key_id();
      return false;
    }
  } else {
    *previous_key_id = std::string(sv(e->engine_key_id()));
  }
  next_seq_ = e->seq() + 1;
  std::memcpy(head_.data(), hash.data(), 32);
  log_id_ = std::string(sv(e->log_id()));
  return true;
}

bool AuditLog::open(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) return true;
  if (closed_ || failed_) {
    *error = "audit log " + options_.file + " is closed or failed";
    return false;
  }
  std::string previous_key_id, why;
  if (!restore_locked(&why, &previous_key_id)) {
    *error = "audit log " + options_.file + ": " + why +
             "; refusing to continue the chain (check it with `assay verify-audit`)";
    log_error("audit", "corrupt audit log tail; not starting",
              {{"file", options_.file}, {"error", why}});
    return false;
  }
  const bool created = log_id_.empty();
  if (created) log_id_ = random_log_id();
  if (const auto dir = std::filesystem::path(options_.file).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // as for every output file
  }
  fd_ = ::open(options_.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    *error = "audit log " + options_.file + ": cannot open for writing: " + std::strerror(errno);
    return false;
  }
  if (created && options_.fsync) {  // make the new file's directory entry durable too
    const std::string dir = std::filesystem::path(options_.file).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  if (publisher_ && !publisher_->start(error)) {
    ::close(fd_);
    fd_ = -1;
    *error = "audit log publisher " + publisher_->describe() + ": " + *error;
    return false;
  }
  open_ = true;
  log_info("audit", "audit log open",
           {{"file", options_.file},
            {"log_id", log_id_},
            {"next_seq", std::to_string(next_seq_)},
            {"key_id", key_->key_id()}});
  if (!previous_key_id.empty())
    append_locked(now_ns(), "key.changed",
                  {{"previous_key_id", previous_key_id},
                   {"key_id", key_->key_id()},
                   {"public_key", to_hex(key_->public_key())}});
  if (!recovered_.empty()) {
    append_locked(now_ns(), "audit.tail_recovered", recovered_);
    recovered_.clear();
  }
  std::vector<Pending> pending;
  pending.swap(pending_);
  for (const Pending& p : pending) append_locked(p.time_ns, p.type, p.details);
  return !failed_;
}

void AuditLog::fail_locked(const std::string& what) {
  ++file_failures_;
  if (failures_metric_ != nullptr) failures_metric_->Increment();
  if (!failed_)
    log_error("audit",
              "audit log write failed; no further events are written to keep the chain whole",
              {{"file", options_.file}, {"error", what}});
  failed_ = true;
}

bool AuditLog::append_locked(int64_t time_ns, std::string_view type, const AuditDetails& details) {
  if (failed_ || closed_ || fd_ < 0) {
    fail_locked("log not open");
    return false;
  }
  const uint64_t seq = next_seq_;
  const auto canonical = audit_canonical_bytes(seq, time_ns, type, log_id_, options_.instance_id,
                                               options_.pipeline_name, key_->key_id(), details);
  const auto hash = audit_record_hash(head_, canonical);
  const auto sig = key_->sign(hash);
  flatbuffers::FlatBufferBuilder fbb(512);
  const auto t = fbb.CreateString(type);
  const auto lid = fbb.CreateString(log_id_);
  const auto inst = fbb.CreateString(options_.instance_id);
  const auto pipe = fbb.CreateString(options_.pipeline_name);
  std::vector<flatbuffers::Offset<wire::AuditDetail>> ds;
  ds.reserve(details.size());
  for (const auto& [k, v] : details)
    ds.push_back(wire::CreateAuditDetail(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  const auto dv = fbb.CreateVector(ds);
  const auto kid = fbb.CreateString(key_->key_id());
  const auto prev = fbb.CreateVector(head_.data(), head_.size());
  const auto rh = fbb.CreateVector(hash.data(), hash.size());
  const auto sg = fbb.CreateVector(sig.data(), sig.size());
  wire::AuditEventBuilder b(fbb);
  b.add_seq(seq);
  b.add_time_ns(time_ns);
  b.add_type(t);
  b.add_log_id(lid);
  b.add_instance_id(inst);
  b.add_pipeline_name(pipe);
  b.add_details(dv);
  b.add_engine_key_id(kid);
  b.add_prev_hash(prev);
  b.add_record_hash(rh);
  b.add_signature(sg);
  wire::FinishAuditEventBuffer(fbb, b.Finish());
  std::vector<uint8_t> frame(4 + fbb.GetSize());
  const uint32_t n = fbb.GetSize();
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(frame.data() + 4, fbb.GetBufferPointer(), n);
  if (!write_all(fd_, frame.data(), frame.size()) || (options_.fsync && ::fdatasync(fd_) != 0)) {
    fail_locked(std::string("write: ") + std::strerror(errno));
    return false;
  }
  next_seq_ = seq + 1;
  head_ = hash;
  ++written_;
  if (events_metric_ != nullptr) events_metric_->Increment();
  if (publisher_) publisher_->publish({fbb.GetBufferPointer(), n}, log_id_, seq);
  return true;
}

bool AuditLog::record(std::string_view type, AuditDetails details) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    ++file_failures_;
    if (failures_metric_ != nullptr) failures_metric_->Increment();
    log_warn("audit", "audit event after close; not written", {{"type", std::string(type)}});
    return false;
  }
  if (!open_ && !failed_) {
    pending_.push_back(Pending{now_ns(), std::string(type), std::move(details)});
    return true;
  }
  return append_locked(now_ns(), type, details);
}

bool AuditLog::record_config_reload(bool ok, std::span<const uint8_t> config_sha256,
                                    std::string_view error) {
  AuditDetails d{{"config_sha256", to_hex(config_sha256)}};
  if (!ok) d.emplace_back("error", std::string(error));
  return record(ok ? "config.reload" : "config.reload_failed", std::move(d));
}

void AuditLog::close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!pending_.empty())
    log_warn("audit", "audit events recorded but never written (the log was not opened)",
             {{"file", options_.file}, {"count", std::to_string(pending_.size())}});
  lock.unlock();
  if (publisher_) {
    if (!publisher_->flush(10000))
      log_error("audit", "audit events not confirmed by the publisher",
                {{"target", publisher_->describe()},
                 {"failures", std::to_string(publisher_->failures())}});
    publisher_->stop();
  }
}

uint64_t AuditLog::next_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

std::array<uint8_t, 32> AuditLog::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_;
}

std::string AuditLog::log_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_id_;
}

uint64_t AuditLog::events_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

uint64_t AuditLog::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return file_failures_ + (publisher_ ? publisher_->failures() : 0);
}

}  // namespace assay::engine
