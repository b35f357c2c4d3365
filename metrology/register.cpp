#include "metrology/register.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <new>
#include <stdexcept>

#include "connectors/record_json.hpp"
#include "engine/bytes.hpp"
#include "engine/files.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"

namespace assay::metrology {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000LL;
constexpr uint32_t kNoFirmware = UINT32_MAX;
constexpr size_t kMaxFirmware = 1u << 16;
constexpr int64_t kNoCertificate = INT64_MIN;

// Status word bits (one 32-bit word per instrument; the filters scan these).
constexpr uint32_t kFwShift = 0, kFwMask = 3u << kFwShift;           // FirmwareStatus
constexpr uint32_t kDriftShift = 2, kDriftMask = 3u << kDriftShift;  // wire::DriftLevel
constexpr uint32_t kAnomalous = 1u << 4;                             // last reading had flags
constexpr uint32_t kVerShift = 5, kVerMask = 7u << kVerShift;        // 0 never, 1 + Outcome
constexpr uint32_t kRegistered = 1u << 8;                            // in the identity registry

uint64_t hash_id(std::string_view s) {
  return std::hash<std::string_view>{}(s) | 1;
}

// A zeroed array of `n` T in lazily committed memory (pages are touched only when used), with
// stable addresses: the register never reallocates while readers read.
template <class T>
class LazyArray {
 public:
  explicit LazyArray(size_t n) : n_(n) {
    bytes_ = std::max<size_t>(n * sizeof(T), 4096);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    p_ = static_cast<T*>(p);
  }
  ~LazyArray() { ::munmap(p_, bytes_); }
  LazyArray(const LazyArray&) = delete;
  LazyArray& operator=(const LazyArray&) = delete;
  T& operator[](size_t i) const { return p_[i]; }
  T* data() const { return p_; }

 private:
  size_t n_ = 0, bytes_ = 0;
  T* p_ = nullptr;
};

std::string json_str(std::string_view s) {
  std::string o;
  connectors::append_json_string(o, s);
  return o;
}

std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string json_time(int64_t ns) {
  return ns == 0 ? "null" : json_str(engine::format_rfc3339(ns));
}

const char* drift_name(uint32_t level) {
  switch (level) {
    case 1:
      return "ok";
    case 2:
      return "warning";
    case 3:
      return "alarm";
    default:
      return "not_checked";
  }
}

engine::HttpReply json_error(int status, const std::string& message) {
  engine::HttpReply r;
  r.status = status;
  r.body = "{\"error\":" + json_str(message) + "}\n";
  return r;
}

bool parse_u64(const std::string& s, uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

bool parse_f64(const std::string& s, double& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty() && std::isfinite(out) &&
         out >= 0;
}

}  // namespace

// One instrument: its id (inline up to 54 bytes) and the live fields the operator writes.
struct alignas(64) InstrumentRegister::Entry {
  uint64_t hash = 0;
  uint16_t key_len = 0;
  char key[54] = {};
  std::atomic<int64_t> last_time_ns{0};  ///< the reading's own time (instrument clock)
  std::atomic<int64_t> last_seen_ns{0};  ///< when Assay processed it
  std::atomic<uint64_t> trusted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<double> last_value{0};
  std::atomic<uint32_t> fw_index{kNoFirmware};
  std::atomic<uint32_t> anomaly_flags{0};
  std::atomic<uint32_t> anomalies{0};
  std::atomic<uint16_t> last_reject{0};
  std::atomic<uint8_t> last_verdict{0};
  std::atomic<uint8_t> drift{0};
};
static_assert(sizeof(InstrumentRegister::Entry) == 128, "an entry is two cache lines");

// The immutable index: open addressing, sensor id hash -> slot.
struct InstrumentRegister::Index {
  struct Slot {
    uint64_t hash = 0;  ///< 0 = empty
    uint32_t slot = 0;
  };
  std::vector<Slot> slots;
  size_t mask = 0;
};

// Everything per slot besides the entry, and the shared tables.
struct InstrumentRegister::Columns {
  explicit Columns(size_t cap)
      : entries(cap),
        status(cap),
        cert_until(cap),
        approved(cap),
        owner(cap),
        group(cap),
        ids(cap),
        firmware(kMaxFirmware) {}
  LazyArray<Entry> entries;
  LazyArray<std::atomic<uint32_t>> status;
  LazyArray<std::atomic<int64_t>> cert_until;
  /// Approved firmware of the slot as indices into `firmware` (n > 3: look in the registry).
  struct Approved {
    std::atomic<uint32_t> n{0};
    std::atomic<uint32_t> idx[3] = {};
  };
  LazyArray<Approved> approved;
  LazyArray<std::atomic<uint32_t>> owner;  ///< into `names` (written under cold_mu_)
  LazyArray<std::atomic<uint32_t>> group;
  LazyArray<const std::string*> ids;  ///< full id (strings owned by id_store)
  std::deque<std::string> id_store;   ///< build_mu_
  // Firmware hashes seen or approved: an append-only table.
  LazyArray<std::array<uint8_t, 32>> firmware;
  std::atomic<uint32_t> firmware_count{0};
  std::mutex fw_mu;
  std::unordered_map<std::string, uint32_t> fw_index;  ///< fw_mu
  // Cold, under cold_mu_.
  std::vector<std::string> names{""};
  std::unordered_map<std::string, uint32_t> name_index{{"", 0}};
  std::unordered_map<uint32_t, std::string_view> cert_id;
  struct LastVerification {
    Outcome outcome = Outcome::kNoResponse;
    std::string reason, detail, result_id, campaign_id;
    int64_t decided_ns = 0;
  };
  std::unordered_map<uint32_t, LastVerification> verification;

  uint32_t name_id(const std::string& s) {
    auto [it, fresh] = name_index.emplace(s, static_cast<uint32_t>(names.size()));
    if (fresh) names.push_back(s);
    return it->second;
  }
  /// The index of a firmware hash (added if new); kNoFirmware when the table is full.
  uint32_t firmware_of(const uint8_t* h) {
    std::lock_guard<std::mutex> lock(fw_mu);
    std::string k(reinterpret_cast<const char*>(h), 32);
    auto it = fw_index.find(k);
    if (it != fw_index.end()) return it->second;
    const uint32_t n = firmware_count.load(std::memory_order_relaxed);
    if (n >= kMaxFirmware) return kNoFirmware;
    std::memcpy(firmware[n].data(), h, 32);
    firmware_count.store(n + 1, std::memory_order_release);
    fw_index.emplace(std::move(k), n);
    return n;
  }
};

namespace {
RegisterConfig with_clock(RegisterConfig c) {
  if (!c.clock) c.clock = [] { return engine::now_ns(); };
  return c;
}
}  // namespace

InstrumentRegister::InstrumentRegister(RegisterConfig config)
    : config_(with_clock(std::move(config))) {
  if (!config_.identity)
    throw std::invalid_argument("the instrument register needs an identity registry");
  cols_ = std::make_unique<Columns>(config_.max_instruments);
  index_.store(std::make_shared<const Index>());
  refresh_identity();
  refresh_certificates(config_.clock());
}

InstrumentRegister::~InstrumentRegister() {
  stop();
}

std::string InstrumentRegister::describe() const {
  return "instrument register (" + std::to_string(size()) + " instruments)";
}

size_t InstrumentRegister::size() const {
  return count_.load(std::memory_order_acquire);
}

InstrumentRegister::Entry* InstrumentRegister::entry(uint32_t slot) const {
  return &cols_->entries[slot];
}

void InstrumentRegister::append_instrument(std::string_view id) {
  const uint32_t slot = count_.load(std::memory_order_relaxed);
  Entry* e = new (&cols_->entries[slot]) Entry();
  e->hash = hash_id(id);
  e->key_len = static_cast<uint16_t>(std::min<size_t>(id.size(), UINT16_MAX));
  std::memcpy(e->key, id.data(), std::min(id.size(), sizeof e->key));
  cols_->id_store.emplace_back(id);
  cols_->ids[slot] = &cols_->id_store.back();
  new (&cols_->status[slot]) std::atomic<uint32_t>(kRegistered);
  new (&cols_->cert_until[slot]) std::atomic<int64_t>(kNoCertificate);
  new (&cols_->approved[slot]) Columns::Approved();
  new (&cols_->owner[slot]) std::atomic<uint32_t>(0);
  new (&cols_->group[slot]) std::atomic<uint32_t>(0);
  count_.store(slot + 1, std::memory_order_release);
}

std::optional<uint32_t> InstrumentRegister::find(std::string_view id) const {
  const auto idx = index_.load();
  if (idx->slots.empty()) return std::nullopt;
  const uint64_t h = hash_id(id);
  for (size_t i = h & idx->mask;; i = (i + 1) & idx->mask) {
    const Index::Slot& s = idx->slots[i];
    if (s.hash == 0) return std::nullopt;
    if (s.hash == h && *cols_->ids[s.slot] == id) return s.slot;
  }
}

void InstrumentRegister::refresh_identity() {
  std::lock_guard<std::mutex> build(build_mu_);
  const auto reg = config_.identity->current();
  identity_generation_ = config_.identity->generation();
  // New instruments get slots; every slot's registry-derived columns are recomputed.
  std::vector<const registries::SensorInfo*> fresh;
  reg->for_each_sensor([&](const registries::SensorInfo& s) {
    if (!find(s.sensor_id)) fresh.push_back(&s);
  });
  std::sort(fresh.begin(), fresh.end(),
            [](const auto* a, const auto* b) { return a->sensor_id < b->sensor_id; });
  if (!fresh.empty()) {
    for (const auto* s : fresh) {
      if (count_.load() >= config_.max_instruments) {
        engine::log_warn("register", "instrument register full; instruments left out",
                         {{"max_instruments", std::to_string(config_.max_instruments)}});
        break;
      }
      append_instrument(s->sensor_id);
    }
    auto idx = std::make_shared<Index>();
    const size_t n = count_.load();
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    idx->slots.resize(cap);
    idx->mask = cap - 1;
    for (uint32_t slot = 0; slot < n; ++slot) {
      const uint64_t h = cols_->entries[slot].hash;
      size_t i = h & idx->mask;
      while (idx->slots[i].hash != 0) i = (i + 1) & idx->mask;
      idx->slots[i] = {h, slot};
    }
    index_.store(std::shared_ptr<const Index>(std::move(idx)));
  }
  const size_t n = count_.load();
  std::unique_lock<std::mutex> cold(cold_mu_, std::defer_lock);
  for (uint32_t slot = 0; slot < n; ++slot) {
    if (slot % 4096 == 0) {  // short lock holds: queries go on meanwhile
      if (cold.owns_lock()) cold.unlock();
      cold.lock();
    }
    const registries::SensorInfo* s = reg->find_sensor(*cols_->ids[slot]);
    Columns::Approved& a = cols_->approved[slot];
    if (s == nullptr) {
      cols_->status[slot].fetch_and(~kRegistered, std::memory_order_relaxed);
      a.n.store(0, std::memory_order_relaxed);
      continue;
    }
    cols_->status[slot].fetch_or(kRegistered, std::memory_order_relaxed);
    cols_->owner[slot].store(cols_->name_id(s->owner), std::memory_order_relaxed);
    cols_->group[slot].store(cols_->name_id(s->redundancy_group), std::memory_order_relaxed);
    const uint32_t na = static_cast<uint32_t>(s->approved_firmware.size());
    for (uint32_t k = 0; k < std::min<uint32_t>(na, 3); ++k)
      a.idx[k].store(cols_->firmware_of(s->approved_firmware[k].data()), std::memory_order_relaxed);
    a.n.store(na, std::memory_order_release);
    // The firmware status of what was seen, under the (possibly changed) approval list.
    const uint32_t fw = cols_->entries[slot].fw_index.load(std::memory_order_relaxed);
    if (fw != kNoFirmware) {
      uint32_t fs = na == 0 ? 0 : 2;
      for (uint32_t k = 0; k < na; ++k) {
        const auto& h = cols_->firmware[fw];
        if (std::memcmp(h.data(), s->approved_firmware[k].data(), 32) == 0) fs = 1;
      }
      uint32_t expect = cols_->status[slot].load(std::memory_order_relaxed);
      while (!cols_->status[slot].compare_exchange_weak(
          expect, (expect & ~kFwMask) | (fs << kFwShift), std::memory_order_relaxed))
        ;
    }
  }
}

void InstrumentRegister::refresh_certificates(int64_t now_ns) {
  if (!config_.calibration) return;
  const auto certs = config_.calibration->snapshot();
  calibration_generation_ = config_.calibration->generation();
  const size_t n = count_.load();
  std::vector<std::pair<uint32_t, std::string_view>> ids;
  for (uint32_t slot = 0; slot < n; ++slot) {
    const registries::CertLookup found = certs->lookup(*cols_->ids[slot], now_ns);
    if (found.status == registries::CertStatus::kValid && found.hot != nullptr) {
      cols_->cert_until[slot].store(found.hot->valid_until_ns, std::memory_order_relaxed);
      ids.emplace_back(slot, config_.calibration->intern(found.stable_id));
    } else {
      cols_->cert_until[slot].store(kNoCertificate, std::memory_order_relaxed);
    }
  }
  std::unordered_map<uint32_t, std::string_view> fresh(ids.begin(), ids.end());
  std::lock_guard<std::mutex> cold(cold_mu_);
  cols_->cert_id.swap(fresh);
}

bool InstrumentRegister::start(std::string*) {
  if (thread_.joinable()) return true;
  stop_.store(false);
  thread_ = std::thread([this] { loop(); });
  return true;
}

void InstrumentRegister::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  thread_.join();
  if (!config_.snapshot_path.empty()) {
    std::string err;
    if (!write_snapshot(config_.snapshot_path, &err))
      engine::log_error("register", "cannot write the register snapshot", {{"error", err}});
  }
}

void InstrumentRegister::loop() {
  int64_t next_snapshot = engine::monotonic_ns() + config_.snapshot_interval_ms * 1'000'000;
  int64_t next_certs = engine::monotonic_ns() + config_.certificate_refresh_ms * 1'000'000;
  while (!stop_.load()) {
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_.load(); });
    }
    if (stop_.load()) return;
    const int64_t mono = engine::monotonic_ns();
    if (config_.identity->generation() != identity_generation_) refresh_identity();
    if (config_.calibration &&
        (config_.calibration->generation() != calibration_generation_ || mono >= next_certs)) {
      refresh_certificates(config_.clock());
      next_certs = mono + config_.certificate_refresh_ms * 1'000'000;
    }
    if (!config_.snapshot_path.empty() && config_.snapshot_interval_ms > 0 &&
        mono >= next_snapshot) {
      std::string err;
      if (!write_snapshot(config_.snapshot_path, &err))
        engine::log_error("register", "cannot write the register snapshot", {{"error", err}});
      next_snapshot = mono + config_.snapshot_interval_ms * 1'000'000;
    }
  }
}

void InstrumentRegister::observe(const engine::Batch& b, int64_t now_ns) {
  const auto idx = index_.load();
  const size_t rows = b.row_count();
  if (rows == 0) return;
  thread_local std::vector<uint64_t> hashes;
  thread_local std::vector<uint32_t> slots;
  hashes.assign(rows, 0);
  slots.assign(rows, UINT32_MAX);
  for (size_t r = 0; r < rows; ++r) {
    const wire::Reading* rd = b.row_reading[r];
    if (rd != nullptr) hashes[r] = hash_id(rd->sensor_id()->string_view());
  }
  const Index::Slot* base = idx->slots.data();
  const size_t mask = idx->mask;
  if (base == nullptr) {
    unknown_.fetch_add(rows, std::memory_order_relaxed);
    return;
  }
  auto resolve = [&](size_t r) {
    const uint64_t h = hashes[r];
    if (h == 0) return;
    const std::string_view id = b.row_reading[r]->sensor_id()->string_view();
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Index::Slot& s = base[i];
      if (s.hash == 0) return;
      if (s.hash != h) continue;
      const Entry& e = cols_->entries[s.slot];
      if (e.key_len == id.size() &&
          (id.size() <= sizeof e.key ? std::memcmp(e.key, id.data(), id.size()) == 0
                                     : *cols_->ids[s.slot] == id)) {
        slots[r] = s.slot;
        return;
      }
    }
  };
  // Software pipelining: the index slot of row r+16 and the entry of row r+8 are on their way
  // while row r is recorded (in a fleet of a million, each is a cache miss).
  constexpr size_t kSlotAhead = 16, kEntryAhead = 8;
  for (size_t r = 0; r < std::min(rows, kSlotAhead); ++r)
    __builtin_prefetch(base + (hashes[r] & mask));
  for (size_t r = 0; r < std::min(rows, kEntryAhead); ++r) resolve(r);
  for (size_t r = 0; r < rows; ++r) {
    if (r + kSlotAhead < rows) __builtin_prefetch(base + (hashes[r + kSlotAhead] & mask));
    if (r + kEntryAhead < rows) {
      resolve(r + kEntryAhead);
      if (slots[r + kEntryAhead] != UINT32_MAX) {
        const char* p = reinterpret_cast<const char*>(&cols_->entries[slots[r + kEntryAhead]]);
        __builtin_prefetch(p + 64, 1);
      }
    }
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr) continue;
    const uint32_t slot = slots[r];
    if (slot == UINT32_MAX) {
      unknown_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Entry& e = cols_->entries[slot];
    const bool rejected = b.row_reject[r] != engine::RejectCode::kNone;
    auto& counter = rejected ? e.rejected : e.trusted;
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    e.last_reject.store(static_cast<uint16_t>(b.row_reject[r]), std::memory_order_relaxed);
    // What the instrument says about itself counts only when its signature verified (or the
    // pipeline checks none): a forgery must not change its register entry.
    const uint8_t sig = b.row_signature[r];
    if (sig != static_cast<uint8_t>(wire::SignatureVerdict::Valid) &&
        sig != static_cast<uint8_t>(wire::SignatureVerdict::NotChecked))
      continue;
    const int64_t t = rd->time_ns();
    if (t > e.last_time_ns.load(std::memory_order_relaxed))
      e.last_time_ns.store(t, std::memory_order_relaxed);
    e.last_seen_ns.store(now_ns, std::memory_order_relaxed);
    const bool calibrated = b.row_calibration[r] != 0;
    e.last_value.store(calibrated ? b.row_corrected[r] : rd->value(), std::memory_order_relaxed);
    e.last_verdict.store(b.row_calibration[r], std::memory_order_relaxed);
    const uint32_t flags = b.row_anomaly[r];
    e.anomaly_flags.store(flags, std::memory_order_relaxed);
    if (flags != 0)
      e.anomalies.store(e.anomalies.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    const uint32_t old = cols_->status[slot].load(std::memory_order_relaxed);
    uint32_t st = (old & ~kAnomalous) | (flags != 0 ? kAnomalous : 0);
    if (b.row_drift[r] != 0) {
      e.drift.store(b.row_drift[r], std::memory_order_relaxed);
      st = (st & ~kDriftMask) | (static_cast<uint32_t>(b.row_drift[r] & 3) << kDriftShift);
    }
    // Firmware: the common case is the same hash as last time (one 32-byte compare).
    const auto* fw = rd->firmware_sha256();
    const uint32_t cur = e.fw_index.load(std::memory_order_relaxed);
    uint32_t fs = (old & kFwMask) >> kFwShift;
    if (fw == nullptr || fw->size() != 32) {
      const Columns::Approved& a = cols_->approved[slot];
      fs = a.n.load(std::memory_order_relaxed) == 0 ? 0 : 3;  // missing
    } else if (cur == kNoFirmware ||
               std::memcmp(cols_->firmware[cur].data(), fw->data(), 32) != 0) {
      const uint32_t now_fw = cols_->firmware_of(fw->data());
      e.fw_index.store(now_fw, std::memory_order_relaxed);
      const Columns::Approved& a = cols_->approved[slot];
      const uint32_t na = a.n.load(std::memory_order_acquire);
      if (na == 0) {
        fs = 0;
      } else {
        fs = 2;
        for (uint32_t k = 0; k < std::min<uint32_t>(na, 3); ++k)
          if (a.idx[k].load(std::memory_order_relaxed) == now_fw) fs = 1;
        if (fs == 2 && na > 3) {  // a long approval list: ask the registry
          const auto reg = config_.identity->current();
          if (const auto* s = reg->find_sensor(*cols_->ids[slot]))
            for (const auto& h : s->approved_firmware)
              if (std::memcmp(h.data(), fw->data(), 32) == 0) fs = 1;
        }
      }
    }
    st = (st & ~kFwMask) | (fs << kFwShift);
    if (st != old) {
      uint32_t expect = old;
      // Verification and registration bits are written by other threads: merge, never clobber.
      while (!cols_->status[slot].compare_exchange_weak(
          expect,
          (expect & ~(kFwMask | kDriftMask | kAnomalous)) |
              (st & (kFwMask | kDriftMask | kAnomalous)),
          std::memory_order_relaxed))
        ;
    }
  }
}

void InstrumentRegister::on_result(const Result& r) {
  const auto slot = find(r.instrument_id);
  if (!slot) return;
  {
    std::lock_guard<std::mutex> cold(cold_mu_);
    Columns::LastVerification& v = cols_->verification[*slot];
    v.outcome = r.outcome;
    v.reason = r.reason;
    v.detail = r.detail;
    v.result_id = r.result_id;
    v.campaign_id = r.campaign_id;
    v.decided_ns = r.decided_ns;
  }
  uint32_t expect = cols_->status[*slot].load(std::memory_order_relaxed);
  const uint32_t bits = (static_cast<uint32_t>(r.outcome) + 1) << kVerShift;
  while (!cols_->status[*slot].compare_exchange_weak(expect, (expect & ~kVerMask) | bits,
                                                     std::memory_order_relaxed))
    ;
}

void InstrumentRegister::entry_json(std::string& o, uint32_t slot, int64_t now_ns,
                                    const registries::IdentityRegistry& reg) const {
  const Entry& e = cols_->entries[slot];
  const std::string& id = *cols_->ids[slot];
  const uint32_t st = cols_->status[slot].load(std::memory_order_relaxed);
  const registries::SensorInfo* s = reg.find_sensor(id);
  o += "{\"id\":" + json_str(id);
  o += ",\"registered\":";
  o += (st & kRegistered) && s != nullptr ? "true" : "false";
  if (s != nullptr) {
    o += ",\"owner\":" + json_str(s->owner) +
         ",\"redundancy_group\":" + json_str(s->redundancy_group);
    o += ",\"quantity\":" + json_str(s->quantity) + ",\"unit\":" + json_str(s->unit);
    o += ",\"measuring_range\":{\"min\":" +
         (s->range_min ? json_num(*s->range_min) : std::string("null")) +
         ",\"max\":" + (s->range_max ? json_num(*s->range_max) : std::string("null")) + "}";
    o += ",\"keys\":[";
    bool first = true;
    for (const std::string& kid : s->key_ids) {
      const registries::SensorKey* k = reg.find_key(kid);
      if (k == nullptr) continue;
      o += first ? "" : ",";
      first = false;
      o += "{\"key_id\":" + json_str(kid) +
           ",\"alg\":" + json_str(wire::EnumNameSignatureAlg(k->alg));
      if (k->alg == wire::SignatureAlg::Ed25519)
        o += ",\"public_key\":" + json_str(engine::to_hex(k->ed25519));
      o += ",\"valid_from\":" +
           (k->valid_from_ns == INT64_MIN ? std::string("null") : json_time(k->valid_from_ns));
      o += ",\"valid_until\":" +
           (k->valid_until_ns == INT64_MAX ? std::string("null") : json_time(k->valid_until_ns));
      o += std::string(",\"revoked\":") + (k->revoked ? "true" : "false") + "}";
    }
    o += "]";
  }
  // Firmware seen vs approved.
  const uint32_t fw = e.fw_index.load(std::memory_order_relaxed);
  o += ",\"firmware\":{\"seen\":";
  o += fw == kNoFirmware ? std::string("null") : json_str(engine::to_hex(cols_->firmware[fw]));
  o += ",\"status\":" +
       json_str(firmware_status_name(static_cast<FirmwareStatus>((st & kFwMask) >> kFwShift)));
  o += ",\"approved\":[";
  if (s != nullptr)
    for (size_t k = 0; k < s->approved_firmware.size(); ++k)
      o += (k ? "," : "") + json_str(engine::to_hex(s->approved_firmware[k]));
  o += "]}";
  // Calibration certificate in force.
  const int64_t until = cols_->cert_until[slot].load(std::memory_order_relaxed);
  o += ",\"calibration\":";
  auto cid = cols_->cert_id.find(slot);
  if (until == kNoCertificate || until < now_ns || cid == cols_->cert_id.end()) {
    o += "{\"status\":\"none_in_force\"}";
  } else {
    o += "{\"status\":\"in_force\",\"certificate_id\":" + json_str(cid->second) +
         ",\"valid_until\":" + json_time(until) +
         ",\"expires_in_days\":" + json_num(static_cast<double>(until - now_ns) / kNsPerDay) + "}";
  }
  // Last e-verification.
  o += ",\"verification\":";
  if (auto v = cols_->verification.find(slot); v != cols_->verification.end()) {
    o += "{\"outcome\":" + json_str(outcome_name(v->second.outcome)) +
         ",\"reason\":" + json_str(v->second.reason) + ",\"detail\":" + json_str(v->second.detail) +
         ",\"result_id\":" + json_str(v->second.result_id) +
         ",\"campaign_id\":" + json_str(v->second.campaign_id) +
         ",\"decided\":" + json_time(v->second.decided_ns) + "}";
  } else {
    o += "null";
  }
  o += ",\"drift\":" + json_str(drift_name((st & kDriftMask) >> kDriftShift));
  o += ",\"anomaly_flags\":" + std::to_string(e.anomaly_flags.load(std::memory_order_relaxed));
  o += ",\"anomalies\":" + std::to_string(e.anomalies.load(std::memory_order_relaxed));
  o += ",\"last_reading_time\":" + json_time(e.last_time_ns.load(std::memory_order_relaxed));
  o += ",\"last_seen\":" + json_time(e.last_seen_ns.load(std::memory_order_relaxed));
  o += ",\"last_value\":" + json_num(e.last_value.load(std::memory_order_relaxed));
  o += ",\"last_calibration_verdict\":" +
       json_str(operators::calibration_verdict_name(
           static_cast<wire::CalibrationVerdict>(e.last_verdict.load(std::memory_order_relaxed))));
  o += ",\"trusted\":" + std::to_string(e.trusted.load(std::memory_order_relaxed));
  o += ",\"rejected\":" + std::to_string(e.rejected.load(std::memory_order_relaxed));
  const auto last_reject =
      static_cast<engine::RejectCode>(e.last_reject.load(std::memory_order_relaxed));
  o += ",\"last_reject_reason\":" + (last_reject == engine::RejectCode::kNone
                                         ? std::string("null")
                                         : json_str(engine::reject_code_name(last_reject)));
  o += "}";
}

RegisterPage InstrumentRegister::query(const RegisterQuery& q, int64_t now_ns) const {
  RegisterPage page;
  const size_t n = count_.load(std::memory_order_acquire);
  // Owner and group filters compare interned ids.
  std::optional<uint32_t> owner, group;
  {
    std::lock_guard<std::mutex> cold(cold_mu_);
    auto look = [&](const std::string& name, std::optional<uint32_t>& out) {
      if (name.empty()) return true;
      auto it = cols_->name_index.find(name);
      if (it == cols_->name_index.end()) return false;
      out = it->second;
      return true;
    };
    if (!look(q.owner, owner) || !look(q.group, group)) {
      page.json = "{\"matched\":0,\"returned\":0,\"next_offset\":null,\"instruments\":[]}";
      return page;
    }
  }
  const uint32_t want_ver = q.never_verified ? 0
                            : q.verification ? static_cast<uint32_t>(*q.verification) + 1
                                             : UINT32_MAX;
  std::vector<uint32_t> hits;
  hits.reserve(std::min<size_t>(q.limit, 1 << 16));
  for (size_t slot = q.offset; slot < n; ++slot) {
    ++page.scanned;
    const uint32_t st = cols_->status[slot].load(std::memory_order_relaxed);
    if (want_ver != UINT32_MAX && ((st & kVerMask) >> kVerShift) != want_ver) continue;
    if (q.firmware_not_approved) {
      const uint32_t fs = (st & kFwMask) >> kFwShift;
      if (fs != 2 && fs != 3) continue;
    }
    if (q.drift_at_least && ((st & kDriftMask) >> kDriftShift) < *q.drift_at_least) continue;
    if (q.anomalous && (st & kAnomalous) == 0) continue;
    if (q.calibration_expires_within_ns || q.calibration_missing) {
      const int64_t until = cols_->cert_until[slot].load(std::memory_order_relaxed);
      const bool in_force = until != kNoCertificate && until >= now_ns;
      if (q.calibration_missing && in_force) continue;
      if (q.calibration_expires_within_ns &&
          (!in_force || until - now_ns > *q.calibration_expires_within_ns))
        continue;
    }
    if (owner && cols_->owner[slot].load(std::memory_order_relaxed) != *owner) continue;
    if (group && cols_->group[slot].load(std::memory_order_relaxed) != *group) continue;
    if (q.silent_for_ns) {
      const int64_t seen = cols_->entries[slot].last_seen_ns.load(std::memory_order_relaxed);
      if (seen != 0 && now_ns - seen < *q.silent_for_ns) continue;
    }
    ++page.matched;
    if (hits.size() < q.limit) {
      hits.push_back(static_cast<uint32_t>(slot));
    } else if (!page.next_offset) {
      page.next_offset = slot;
    }
  }
  const auto reg = config_.identity->current();
  std::string& o = page.json;
  o.reserve(256 + hits.size() * 700);
  o += "{\"matched\":" + std::to_string(page.matched) +
       ",\"returned\":" + std::to_string(hits.size()) + ",\"next_offset\":" +
       (page.next_offset ? std::to_string(*page.next_offset) : std::string("null")) +
       ",\"instruments\":[";
  std::lock_guard<std::mutex> cold(cold_mu_);
  for (size_t i = 0; i < hits.size(); ++i) {
    if (i) o += ",";
    entry_json(o, hits[i], now_ns, *reg);
  }
  o += "]}";
  return page;
}

std::optional<std::string> InstrumentRegister::instrument_json(std::string_view id,
                                                               int64_t now_ns) const {
  const auto slot = find(id);
  if (!slot) return std::nullopt;
  const auto reg = config_.identity->current();
  std::string o;
  std::lock_guard<std::mutex> cold(cold_mu_);
  entry_json(o, *slot, now_ns, *reg);
  return o;
}

std::optional<std::string> InstrumentRegister::aas_json(std::string_view id, int64_t now_ns) const {
  const auto slot = find(id);
  if (!slot) return std::nullopt;
  const auto reg = config_.identity->current();
  const Entry& e = cols_->entries[*slot];
  const uint32_t st = cols_->status[*slot].load(std::memory_order_relaxed);
  AasInstrument a;
  a.id = std::string(id);
  if (const registries::SensorInfo* s = reg->find_sensor(a.id)) {
    a.owner = s->owner;
    a.quantity = s->quantity;
    a.unit = s->unit;
    a.range_min = s->range_min;
    a.range_max = s->range_max;
  }
  const uint32_t fw = e.fw_index.load(std::memory_order_relaxed);
  if (fw != kNoFirmware) a.firmware_sha256 = engine::to_hex(cols_->firmware[fw]);
  a.firmware_status = firmware_status_name(static_cast<FirmwareStatus>((st & kFwMask) >> kFwShift));
  std::vector<AasRecord> records;
  {
    std::lock_guard<std::mutex> cold(cold_mu_);
    const int64_t until = cols_->cert_until[*slot].load(std::memory_order_relaxed);
    if (auto c = cols_->cert_id.find(*slot);
        c != cols_->cert_id.end() && until != kNoCertificate && until >= now_ns) {
      a.certificate_id = std::string(c->second);
      a.certificate_valid_until_ns = until;
    }
    if (auto v = cols_->verification.find(*slot); v != cols_->verification.end()) {
      a.verification_outcome = outcome_name(v->second.outcome);
      a.verification_result_id = v->second.result_id;
      a.verification_decided_ns = v->second.decided_ns;
    }
  }
  // The register keeps the last reading: one record in the internal segment; the linked
  // segment points at the whole trusted stream.
  if (const int64_t t = e.last_time_ns.load(std::memory_order_relaxed); t != 0) {
    AasRecord r;
    r.time_ns = t;
    r.value = e.last_value.load(std::memory_order_relaxed);
    const auto code =
        static_cast<engine::RejectCode>(e.last_reject.load(std::memory_order_relaxed));
    r.verdict = code == engine::RejectCode::kNone
                    ? "trusted"
                    : "rejected:" + std::string(engine::reject_code_name(code));
    const auto v =
        static_cast<wire::CalibrationVerdict>(e.last_verdict.load(std::memory_order_relaxed));
    if (v != wire::CalibrationVerdict::NotChecked)
      r.calibration_verdict = wire::EnumNameCalibrationVerdict(v);
    records.push_back(std::move(r));
  }
  AasOptions opts;
  opts.id_prefix = config_.aas_id_prefix;
  opts.trusted_endpoint = config_.trusted_endpoint;
  opts.nameplate = config_.nameplate;
  return aas_environment_json(a, records, opts);
}

std::string InstrumentRegister::summary_json(int64_t now_ns) const {
  const size_t n = count_.load(std::memory_order_acquire);
  uint64_t registered = 0, in_force = 0, expiring30 = 0, fw_bad = 0, drift_warn = 0,
           drift_alarm = 0, anomalous = 0, trusted = 0, rejected = 0, silent = 0;
  uint64_t ver[5] = {};
  for (size_t slot = 0; slot < n; ++slot) {
    const uint32_t st = cols_->status[slot].load(std::memory_order_relaxed);
    registered += (st & kRegistered) ? 1 : 0;
    const int64_t until = cols_->cert_until[slot].load(std::memory_order_relaxed);
    if (until != kNoCertificate && until >= now_ns) {
      ++in_force;
      if (until - now_ns <= 30 * kNsPerDay) ++expiring30;
    }
    const uint32_t fs = (st & kFwMask) >> kFwShift;
    fw_bad += (fs == 2 || fs == 3) ? 1 : 0;
    const uint32_t d = (st & kDriftMask) >> kDriftShift;
    drift_warn += d == 2 ? 1 : 0;
    drift_alarm += d == 3 ? 1 : 0;
    anomalous += (st & kAnomalous) ? 1 : 0;
    ver[std::min<uint32_t>((st & kVerMask) >> kVerShift, 4)]++;
    const Entry& e = cols_->entries[slot];
    trusted += e.trusted.load(std::memory_order_relaxed);
    rejected += e.rejected.load(std::memory_order_relaxed);
    silent += e.last_seen_ns.load(std::memory_order_relaxed) == 0 ? 1 : 0;
  }
  std::string o = "{\"generated_at\":" + json_time(now_ns);
  o += ",\"instruments\":" + std::to_string(n) + ",\"registered\":" + std::to_string(registered);
  o += ",\"never_seen\":" + std::to_string(silent);
  o += ",\"calibration\":{\"in_force\":" + std::to_string(in_force) +
       ",\"none_in_force\":" + std::to_string(n - in_force) +
       ",\"expiring_within_30_days\":" + std::to_string(expiring30) + "}";
  o += ",\"verification\":{\"never\":" + std::to_string(ver[0]) +
       ",\"passed\":" + std::to_string(ver[1]) + ",\"failed\":" + std::to_string(ver[2]) +
       ",\"indeterminate\":" + std::to_string(ver[3]) +
       ",\"no_response\":" + std::to_string(ver[4]) + "}";
  o += ",\"firmware_not_approved\":" + std::to_string(fw_bad);
  o += ",\"drift\":{\"warning\":" + std::to_string(drift_warn) +
       ",\"alarm\":" + std::to_string(drift_alarm) + "}";
  o += ",\"anomalous\":" + std::to_string(anomalous);
  o += ",\"readings\":{\"trusted\":" + std::to_string(trusted) +
       ",\"rejected\":" + std::to_string(rejected) +
       ",\"unknown_sensor\":" + std::to_string(unknown_readings()) + "}}";
  return o;
}

std::string InstrumentRegister::summary_text(int64_t now_ns) const {
  // The same counts as summary_json, laid out for a terminal.
  const std::string j = summary_json(now_ns);
  auto num = [&](const std::string& key, size_t from = 0) -> std::string {
    const size_t at = j.find("\"" + key + "\":", from);
    if (at == std::string::npos) return "?";
    size_t b = at + key.size() + 3, e = b;
    while (e < j.size() && (std::isdigit(static_cast<unsigned char>(j[e])) != 0)) ++e;
    return j.substr(b, e - b);
  };
  const size_t ver = j.find("\"verification\"");
  const size_t drift = j.find("\"drift\"");
  const size_t readings = j.find("\"readings\"");
  std::string o;
  o += "  instruments                  " + num("instruments") + " (" + num("registered") +
       " registered, " + num("never_seen") + " never seen)\n";
  o += "  calibration in force         " + num("in_force") + " (" + num("expiring_within_30_days") +
       " expiring within 30 days, " + num("none_in_force") + " without)\n";
  o += "  e-verification               passed " + num("passed", ver) + ", failed " +
       num("failed", ver) + ", indeterminate " + num("indeterminate", ver) + ", no response " +
       num("no_response", ver) + ", never " + num("never", ver) + "\n";
  o += "  firmware not approved        " + num("firmware_not_approved") + "\n";
  o += "  drift                        warning " + num("warning", drift) + ", alarm " +
       num("alarm", drift) + "\n";
  o += "  readings                     trusted " + num("trusted", readings) + ", rejected " +
       num("rejected", readings) + "\n";
  return o;
}

bool InstrumentRegister::write_snapshot(const std::string& path, std::string* error) const {
  const int64_t now = config_.clock();
  std::string o = "{\"assay_register_snapshot\":1,\"summary\":" + summary_json(now) + "}\n";
  const size_t n = count_.load(std::memory_order_acquire);
  const auto reg = config_.identity->current();
  for (uint32_t from = 0; from < n; from += 4096) {  // short lock holds: queries go on
    std::lock_guard<std::mutex> cold(cold_mu_);
    for (uint32_t slot = from; slot < std::min<size_t>(n, from + 4096); ++slot) {
      entry_json(o, slot, now, *reg);
      o += "\n";
    }
  }
  std::string err;
  if (!engine::write_file(path, o, 0644, engine::Overwrite::kReplace, err)) {
    *error = err;
    return false;
  }
  return true;
}

engine::HttpReply InstrumentRegister::handle(const engine::HttpRequest& req) const {
  const int64_t now = config_.clock();
  engine::HttpReply reply;
  if (req.path == "/register/summary" || req.path == "/register" || req.path == "/register/") {
    if (!req.query.empty()) return json_error(400, "/register/summary takes no parameters");
    reply.body = summary_json(now) + "\n";
    return reply;
  }
  if (req.path == "/register/instrument" || req.path == "/register/aas") {
    const std::string* id = req.param("id");
    if (id == nullptr || req.query.size() != 1) return json_error(400, "expected ?id=SENSOR_ID");
    auto body = req.path == "/register/aas" ? aas_json(*id, now) : instrument_json(*id, now);
    if (!body) return json_error(404, "unknown instrument '" + *id + "'");
    reply.body = *body + "\n";
    return reply;
  }
  if (req.path != "/register/instruments") return json_error(404, "unknown register endpoint");
  RegisterQuery q;
  for (const auto& [k, v] : req.query) {
    uint64_t u = 0;
    double d = 0;
    if (k == "calibration_expires_within_days") {
      if (!parse_f64(v, d) || d > 36500)
        return json_error(400, k + ": expected days in [0, 36500]");
      q.calibration_expires_within_ns = static_cast<int64_t>(d * kNsPerDay);
    } else if (k == "calibration") {
      if (v != "missing") return json_error(400, "calibration: expected `missing`");
      q.calibration_missing = true;
    } else if (k == "verification") {
      if (v == "never") {
        q.never_verified = true;
      } else if (auto o = parse_outcome(v)) {
        q.verification = *o;
      } else {
        return json_error(
            400, "verification: expected passed, failed, indeterminate, no_response or never");
      }
    } else if (k == "firmware") {
      if (v != "not_approved") return json_error(400, "firmware: expected `not_approved`");
      q.firmware_not_approved = true;
    } else if (k == "drift") {
      if (v == "warning")
        q.drift_at_least = 2;
      else if (v == "alarm")
        q.drift_at_least = 3;
      else
        return json_error(400, "drift: expected warning or alarm");
    } else if (k == "anomalous") {
      if (v != "true") return json_error(400, "anomalous: expected `true`");
      q.anomalous = true;
    } else if (k == "silent_for_s") {
      if (!parse_u64(v, u) || u > 100ull * 365 * 86400)
        return json_error(400, k + ": expected seconds");
      q.silent_for_ns = static_cast<int64_t>(u) * 1'000'000'000;
    } else if (k == "owner") {
      q.owner = v;
    } else if (k == "group") {
      q.group = v;
    } else if (k == "offset") {
      if (!parse_u64(v, u)) return json_error(400, "offset: expected a number");
      q.offset = static_cast<size_t>(u);
    } else if (k == "limit") {
      if (!parse_u64(v, u) || u < 1 || u > 10000)
        return json_error(400, "limit: expected 1..10000");
      q.limit = static_cast<size_t>(u);
    } else {
      return json_error(400, "unknown parameter '" + k + "'");
    }
  }
  reply.body = query(q, now).json + "\n";
  return reply;
}

std::vector<engine::HttpRoute> InstrumentRegister::http_routes() {
  auto self = shared_from_this();  // a request in flight keeps the register alive
  return {{"/register", [self](const engine::HttpRequest& r) { return self->handle(r); }}};
}

// ---- operator ------------------------------------------------------------------------------

RegisterOperator::RegisterOperator(std::shared_ptr<InstrumentRegister> reg) : reg_(std::move(reg)) {
  if (!reg_) throw std::invalid_argument("instrument_register needs a register");
}

std::unique_ptr<engine::OperatorState> RegisterOperator::make_state(engine::Partition) const {
  return std::make_unique<engine::OperatorState>();
}

void RegisterOperator::process(engine::Batch& batch, engine::OperatorState*,
                               engine::OperatorContext& ctx) const {
  reg_->observe(batch, ctx.now_ns);
}

}  // namespace assay::metrology
