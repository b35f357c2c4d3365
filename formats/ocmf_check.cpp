#include "formats/ocmf_check.hpp"

#include <algorithm>

namespace assay::formats {
namespace {

constexpr char kMagic[4] = {'A', 'O', 'C', 'M'};
constexpr uint16_t kVersion = 1;

// Every entry takes at least 4 + 1 + 8 + 8 + 8 + 4 bytes; a register at least 4 + 8.
constexpr size_t kMinEntryBytes = 33;
constexpr size_t kMinRegisterBytes = 12;

void put_entry(SnapshotWriter& w, std::string_view signer, const OcmfCheckState::Meter& m) {
  w.put_string(signer);
  const uint8_t flags = (m.has_pg[0] ? 1 : 0) | (m.has_pg[1] ? 2 : 0) | (m.open ? 4 : 0) |
                        (m.tainted ? 8 : 0) | (m.has_time ? 16 : 0);
  w.put(flags);
  w.put(m.last_pg[0]);
  w.put(m.last_pg[1]);
  w.put(m.last_time_ns);
  w.put(static_cast<uint32_t>(m.registers.size()));
  for (const OcmfCheckState::Register& r : m.registers) {
    w.put_string(r.obis);
    w.put(r.value);
  }
}

// Strings and register lists are bounded by the bytes present only: restore takes back
// whatever check() can have stored (a signer or OBIS code as long as the parser's limits
// allow, max_registers as configured).
bool get_entry(SnapshotReader& rd, std::string_view* signer, OcmfCheckState::Meter* m) {
  uint8_t flags = 0;
  uint32_t nreg = 0;
  if (!rd.get_string(*signer, rd.remaining()) || !rd.get(flags) || flags > 31 ||
      !rd.get(m->last_pg[0]) || !rd.get(m->last_pg[1]) || !rd.get(m->last_time_ns) ||
      !rd.get(nreg) || nreg > rd.remaining() / kMinRegisterBytes)
    return false;
  m->has_pg[0] = flags & 1;
  m->has_pg[1] = flags & 2;
  m->open = flags & 4;
  m->tainted = flags & 8;
  m->has_time = flags & 16;
  m->registers.resize(nreg);
  for (OcmfCheckState::Register& r : m->registers) {
    std::string_view obis;
    if (!rd.get_string(obis, rd.remaining()) || !rd.get_finite(r.value)) return false;
    r.obis.assign(obis);
  }
  return true;
}

void flag(OcmfCheckResult& r, OcmfCheck c, size_t reading) {
  if (r.first == OcmfCheck::kOk) {
    r.first = c;
    r.reading = static_cast<uint32_t>(reading);
  }
  r.mask |= 1u << static_cast<unsigned>(c);
}

}  // namespace

std::string_view ocmf_check_name(OcmfCheck c) {
  switch (c) {
    case OcmfCheck::kOk:
      return "ok";
    case OcmfCheck::kPaginationReplay:
      return "ocmf.pagination_replay";
    case OcmfCheck::kPaginationGap:
      return "ocmf.pagination_gap";
    case OcmfCheck::kTransactionUnterminated:
      return "ocmf.transaction_unterminated";
    case OcmfCheck::kTransactionNotOpen:
      return "ocmf.transaction_not_open";
    case OcmfCheck::kEndWithoutBegin:
      return "ocmf.transaction_end_without_begin";
    case OcmfCheck::kReadingDecreased:
      return "ocmf.reading_decreased";
    case OcmfCheck::kTimeDecreased:
      return "ocmf.time_decreased";
    case OcmfCheck::kTimeUnsynchronized:
      return "ocmf.time_unsynchronized";
    case OcmfCheck::kTimeInformative:
      return "ocmf.time_informative";
    case OcmfCheck::kTransactionException:
      return "ocmf.transaction_exception";
    case OcmfCheck::kErrorFlags:
      return "ocmf.error_flags";
    case OcmfCheck::kMeterStatus:
      return "ocmf.meter_status";
    case OcmfCheck::kTooManyRegisters:
      return "ocmf.too_many_registers";
    case OcmfCheck::kStateFull:
      return "ocmf.state_full";
    case OcmfCheck::kCount_:
      break;
  }
  return "ocmf.unknown";
}

const OcmfCheckState::Meter* OcmfCheckState::find(std::string_view signer) const {
  const auto it = meters_.find(signer);
  return it == meters_.end() ? nullptr : &it->second;
}

OcmfCheckResult OcmfChecker::check(OcmfCheckState& state, const OcmfRecord& rec,
                                   std::string_view signer) const {
  OcmfCheckResult res;
  auto it = state.meters_.find(signer);
  if (it == state.meters_.end()) {
    if (state.meters_.size() >= config_.max_meters) {
      flag(res, OcmfCheck::kStateFull, 0);
      return res;
    }
    it = state.meters_.emplace(std::string(signer), OcmfCheckState::Meter{}).first;
  }
  OcmfCheckState::Meter& m = it->second;

  // Pagination: one counter per context, incremented by one per record.
  const int ctx = rec.pagination_context == 'F' ? 1 : 0;
  if (config_.pagination && m.has_pg[ctx]) {
    if (rec.pagination <= m.last_pg[ctx]) {
      flag(res, OcmfCheck::kPaginationReplay, 0);
      return res;  // a replayed record must not move the state
    }
    if (rec.pagination != m.last_pg[ctx] + 1) flag(res, OcmfCheck::kPaginationGap, 0);
  }
  // From here on the meter's record may move (a replay returned above without touching it).
  state.changed_.add(it->first, state.meters_.size());
  if (!m.has_pg[ctx] || rec.pagination > m.last_pg[ctx]) {
    m.has_pg[ctx] = true;
    m.last_pg[ctx] = rec.pagination;
  }

  // Readings: consecutive readings with the same TX and TM form one event (the specification
  // omits fields equal to the previous reading's, so several registers share an event).
  bool event_ends = false;
  for (size_t i = 0; i < rec.readings.size(); ++i) {
    const OcmfReading& rd = rec.readings[i];
    const bool new_event =
        i == 0 || rd.tx != rec.readings[i - 1].tx || rd.time_text != rec.readings[i - 1].time_text;
    if (new_event) {
      if (event_ends) m.open = false;
      event_ends = ocmf_tx_ends(rd.tx);
      if (config_.transactions) {
        switch (rd.tx) {
          case OcmfTx::kNone:
            break;
          case OcmfTx::kBegin:
            if (m.open) flag(res, OcmfCheck::kTransactionUnterminated, i);
            m.open = true;
            m.tainted = false;
            m.has_time = false;
            m.registers.clear();
            break;
          case OcmfTx::kException:
            if (!m.open)
              flag(res, OcmfCheck::kTransactionNotOpen, i);
            else
              m.tainted = true;
            break;
          case OcmfTx::kCharging:
          case OcmfTx::kSuspended:
          case OcmfTx::kTariffChange:
            if (!m.open) flag(res, OcmfCheck::kTransactionNotOpen, i);
            break;
          default:  // the end codes
            if (!m.open) flag(res, OcmfCheck::kEndWithoutBegin, i);
            break;
        }
      } else if (rd.tx == OcmfTx::kBegin) {
        m.open = true;
        m.has_time = false;
        m.registers.clear();
      }
    }
    if (config_.reject_unsynchronized && rd.time_status == OcmfTimeStatus::kUnknown)
      flag(res, OcmfCheck::kTimeUnsynchronized, i);
    if (config_.reject_informative && rd.time_status == OcmfTimeStatus::kInformative)
      flag(res, OcmfCheck::kTimeInformative, i);
    if (config_.error_flags && !rd.error_flags.empty()) flag(res, OcmfCheck::kErrorFlags, i);
    if (config_.meter_status && rd.status != 'G') flag(res, OcmfCheck::kMeterStatus, i);
    if (!m.open) continue;
    if (config_.transactions && m.tainted) flag(res, OcmfCheck::kTransactionException, i);
    if (rd.time_status != OcmfTimeStatus::kUnknown) {
      if (!m.has_time) {
        m.has_time = true;
        m.last_time_ns = rd.time_ns;
      } else {
        if (config_.monotonic && rd.time_ns < m.last_time_ns)
          flag(res, OcmfCheck::kTimeDecreased, i);
        m.last_time_ns = std::max(m.last_time_ns, rd.time_ns);
      }
    }
    if (rd.has_value && !rd.obis.empty()) {
      auto reg = std::find_if(m.registers.begin(), m.registers.end(),
                              [&](const OcmfCheckState::Register& r) { return r.obis == rd.obis; });
      if (reg != m.registers.end()) {
        if (config_.monotonic && rd.value < reg->value) flag(res, OcmfCheck::kReadingDecreased, i);
        reg->value = std::max(reg->value, rd.value);
      } else if (m.registers.size() >= config_.max_registers) {
        flag(res, OcmfCheck::kTooManyRegisters, i);
      } else {
        m.registers.push_back({std::string(rd.obis), rd.value});
      }
    }
  }
  if (event_ends) m.open = false;
  return res;
}

std::vector<uint8_t> OcmfCheckState::snapshot() const {
  std::vector<const std::pair<const std::string, Meter>*> sorted;
  sorted.reserve(meters_.size());
  for (const auto& kv : meters_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  SnapshotWriter w(kMagic, kVersion, 0, sorted.size());
  for (const auto* kv : sorted) put_entry(w, kv->first, kv->second);
  return w.finish();
}

bool OcmfCheckState::restore(std::span<const uint8_t> bytes) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  if (!rd.open(bytes, kMagic, kVersion, &param, &count)) return false;
  if (count > rd.remaining() / kMinEntryBytes) return false;
  std::unordered_map<std::string, Meter, StringHash, std::equal_to<>> meters;
  meters.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    Meter m;
    if (!get_entry(rd, &key, &m)) return false;
    if (!meters.emplace(std::string(key), std::move(m)).second) return false;  // duplicate
  }
  if (!rd.at_end()) return false;
  changed_.clear();  // before the keys it points to go
  meters_ = std::move(meters);
  return true;
}

void OcmfCheckState::for_each_changed(const EntryFn& fn) const {
  for (const std::string* signer : changed_.sorted()) {
    const auto it = meters_.find(*signer);
    if (it == meters_.end()) continue;  // cannot happen: keys are only erased with changed_
    SnapshotWriter w(kMagic, kVersion, 0, 1);
    put_entry(w, it->first, it->second);
    const std::vector<uint8_t> entry = w.finish();
    fn(it->first, entry);
  }
}

bool OcmfCheckState::merge(std::span<const uint8_t> entry, size_t max_meters) {
  SnapshotReader rd;
  uint16_t param = 0;
  uint64_t count = 0;
  std::string_view signer;
  Meter m;
  if (!rd.open(entry, kMagic, kVersion, &param, &count) || param != 0 || count != 1 ||
      !get_entry(rd, &signer, &m) || !rd.at_end())
    return false;
  const auto it = meters_.find(signer);
  if (it != meters_.end()) {
    it->second = std::move(m);
    return true;
  }
  if (meters_.size() >= max_meters) return false;
  meters_.emplace(std::string(signer), std::move(m));
  return true;
}

}  // namespace assay::formats
