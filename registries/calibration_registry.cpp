#include "registries/calibration_registry.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "engine/files.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "engine/tsan.hpp"
#include "registries/certificate_sources.hpp"
#include "registries/dcc.hpp"
#include "registries/identity_store.hpp"

namespace assay::registries {

using engine::ConfigError;
using engine::ConfigNode;

namespace {

using engine::file_mtime_ns;

// A time by the one rule of engine::parse_time: a validity bound beyond 1677..2262 is
// unbounded on that side; anything else that is not a representable RFC 3339 time is refused.
int64_t parse_time(const ConfigNode& n, engine::TimeBound bound) {
  const engine::ParsedTime t = engine::parse_time(n.as_string(), bound);
  if (!t.ns) n.fail(t.error);
  return *t.ns;
}

// A number that may be written as .nan/.inf (to_yaml does) so that the refusal says what is
// wrong with it rather than "not a number".
double number(const ConfigNode& n) {
  const std::string s = n.as_string();
  if (s == ".nan" || s == ".NaN" || s == ".NAN" || s == "nan" || s == "NaN")
    n.fail("must be a finite number (got NaN)");
  if (s.find("inf") != std::string::npos || s.find("Inf") != std::string::npos)
    n.fail("must be a finite number (got infinity)");
  return n.as_double();
}

std::string required_string(const ConfigNode& c, const std::string& key) {
  const ConfigNode n = c.get(key);
  std::string s = n.as_string();
  if (s.empty()) n.fail("must not be empty");
  return s;
}

Mpe parse_mpe(const ConfigNode& n) {
  Mpe m;
  m.absolute = n.has("absolute") ? number(n.get("absolute")) : 0;
  m.relative = n.has("relative") ? number(n.get("relative")) : 0;
  if (m.absolute < 0) n.get("absolute").fail("must not be negative");
  if (m.relative < 0) n.get("relative").fail("must not be negative");
  n.finish();
  return m;
}

RefusedCertificate refusal(CertRefusal why, const CalibrationCertificate& c, std::string msg) {
  return {why, c.certificate_id, c.sensor_id, std::move(msg)};
}

// Trust-list part of check_signature (everything but the curve arithmetic).
std::optional<RefusedCertificate> precheck(const CalibrationCertificate& c, const TrustList& trust,
                                           const std::string& where, const LabKey** key_out) {
  if (c.signature.empty())
    return refusal(CertRefusal::kUnsigned, c,
                   where + ": certificate '" + c.certificate_id + "' is unsigned");
  if (c.signature_alg != "Ed25519")
    return refusal(CertRefusal::kUntrustedLab, c,
                   where + ": signature_alg '" + c.signature_alg + "' is not supported (Ed25519)");
  const LabKey* k = trust.find(c.lab_key_id);
  if (k == nullptr)
    return refusal(CertRefusal::kUntrustedLab, c,
                   where + ": lab key '" + c.lab_key_id + "' is not in the trust list");
  if (k->alg != "Ed25519")
    return refusal(CertRefusal::kUntrustedLab, c,
                   where + ": lab key '" + c.lab_key_id +
                       "' is an X.509 key for DCC signatures, not an Ed25519 key");
  if (k->lab_id != c.lab_id)
    return refusal(CertRefusal::kUntrustedLab, c,
                   where + ": lab key '" + c.lab_key_id + "' belongs to lab '" + k->lab_id +
                       "', not to '" + c.lab_id + "'");
  if (k->revoked)
    return refusal(CertRefusal::kUntrustedLab, c,
                   where + ": lab key '" + c.lab_key_id + "' is revoked");
  if (c.issue_date_ns < k->valid_from_ns || c.issue_date_ns > k->valid_until_ns)
    return refusal(
        CertRefusal::kUntrustedLab, c,
        where + ": issue_date is outside the validity of lab key '" + c.lab_key_id + "'");
  if (c.signature.size() != 64)
    return refusal(CertRefusal::kBadSignature, c, where + ": signature must be 64 bytes");
  *key_out = k;
  return std::nullopt;
}

RefusedCertificate bad_signature(const CalibrationCertificate& c, const std::string& where) {
  return refusal(CertRefusal::kBadSignature, c,
                 where + ": signature of lab key '" + c.lab_key_id +
                     "' does not verify over the certificate's canonical bytes");
}

std::string location(const ConfigNode& n) {
  return n.file() + ":" + std::to_string(n.line()) + ":" + std::to_string(n.column());
}

// Best-effort ids of an entry that failed to parse (for the alert).
RefusedCertificate invalid(const ConfigNode& n, const ConfigError& e) {
  RefusedCertificate r;
  r.reason = CertRefusal::kInvalid;
  r.message = e.what();
  if (auto id = n.peek("certificate_id")) r.certificate_id = id->scalar();
  if (auto sensor = n.peek("sensor_id")) r.sensor_id = sensor->scalar();
  return r;
}

}  // namespace

// ---- trust list ------------------------------------------------------------------------

const LabKey* TrustList::find(std::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

const LabKey* TrustList::find_x509(const std::array<uint8_t, 32>& sha256) const {
  for (const auto& [id, k] : keys_)
    if (k.alg == "X509" && k.public_key == sha256) return &k;
  return nullptr;
}

void TrustList::put(LabKey key) {
  std::string id = key.key_id;
  keys_.insert_or_assign(std::move(id), std::move(key));
}

std::shared_ptr<const TrustList> load_trust_list(const std::string& path,
                                                 std::vector<std::string>& refused) {
  const ConfigNode root = ConfigNode::load_file(path);
  const ConfigNode labs = root.get("labs");
  root.finish();
  auto trust = std::make_shared<TrustList>();
  for (const ConfigNode& e : labs.items()) {
    try {
      LabKey k;
      k.lab_id = required_string(e, "lab_id");
      k.key_id = required_string(e, "key_id");
      const ConfigNode alg = e.get("alg");
      k.alg = alg.as_string();
      if (k.alg == "X509") {
        // A DCC lab: its X.509 certificate (inline PEM or a PEM/DER file) verifies XMLDSig.
        std::string data;
        std::optional<ConfigNode> src = e.maybe("certificate");
        if (src) {
          data = src->as_string();
          if (e.has("certificate_file"))
            e.get("certificate_file").fail("give certificate or certificate_file, not both");
        } else {
          src = e.get("certificate_file");
          data = src->read_file();
        }
        std::string error;
        auto x = parse_x509_lab_certificate(data, error);
        if (!x) src->fail(error);
        k.public_key = x->sha256;
        k.x509_der = std::move(x->der);
        k.x509_subject = std::move(x->subject);
        k.x509_not_before_ns = x->not_before_ns;
        k.x509_not_after_ns = x->not_after_ns;
        k.dcc_key = std::move(x->key);
        if (trust->find_x509(k.public_key) != nullptr)
          src->fail("this certificate is already in the trust list under another key_id");
      } else if (k.alg == "Ed25519") {
        const ConfigNode pk = e.get("public_key");
        auto bytes = engine::from_hex(pk.as_string());
        if (!bytes || bytes->size() != 32) pk.fail("Ed25519 public_key must be 64 hex characters");
        std::copy(bytes->begin(), bytes->end(), k.public_key.begin());
        if (!crypto::ed25519_public_key_valid(k.public_key.data()))
          pk.fail("not a valid Ed25519 public key (non-canonical, small order or with torsion)");
      } else {
        alg.fail("unknown alg '" + k.alg +
                 "': only Ed25519 (YAML certificates) and X509 (DCC labs) lab keys are supported");
      }
      if (auto n = e.maybe("valid_from"))
        k.valid_from_ns = parse_time(*n, engine::TimeBound::kFrom);
      if (auto n = e.maybe("valid_until"))
        k.valid_until_ns = parse_time(*n, engine::TimeBound::kUntil);
      if (k.valid_until_ns < k.valid_from_ns)
        e.get("valid_until").fail("valid_until is before valid_from");
      k.revoked = e.get_bool("revoked", false);
      e.finish();
      if (trust->find(k.key_id) != nullptr) e.get("key_id").fail("duplicate key_id");
      trust->put(std::move(k));
    } catch (const ConfigError& err) {
      refused.push_back(err.what());
    }
  }
  return trust;
}

// ---- certificates ----------------------------------------------------------------------

std::string_view cert_refusal_name(CertRefusal r) {
  switch (r) {
    case CertRefusal::kInvalid:
      return "invalid";
    case CertRefusal::kUnsigned:
      return "unsigned";
    case CertRefusal::kBadSignature:
      return "bad_signature";
    case CertRefusal::kUntrustedLab:
      return "untrusted_lab";
  }
  return "unknown";
}

CalibrationCertificate parse_certificate(const ConfigNode& n) {
  if (!n.is_map()) n.fail("a certificate must be a mapping");
  CalibrationCertificate c;
  c.certificate_id = required_string(n, "certificate_id");
  c.sensor_id = required_string(n, "sensor_id");
  c.lab_id = required_string(n, "lab_id");
  c.valid_from_ns = parse_time(n.get("valid_from"), engine::TimeBound::kFrom);
  c.valid_until_ns = parse_time(n.get("valid_until"), engine::TimeBound::kUntil);
  c.issue_date_ns = n.has("issue_date")
                        ? parse_time(n.get("issue_date"), engine::TimeBound::kInstant)
                        : c.valid_from_ns;
  if (c.valid_until_ns < c.valid_from_ns)
    n.get("valid_until").fail("valid_until is before valid_from");
  c.quantity = required_string(n, "quantity");
  c.unit = required_string(n, "unit");
  if (auto cn = n.maybe("correction")) {
    if (cn->has("offset")) c.correction.offset = number(cn->get("offset"));
    if (cn->has("gain")) c.correction.gain = number(cn->get("gain"));
    if (auto p = cn->maybe("poly"))
      for (const ConfigNode& item : p->items()) c.correction.poly.push_back(number(item));
    if (c.correction.gain == 0) cn->get("gain").fail("gain must not be 0");
    cn->finish();
  }
  const ConfigNode un = n.get("expanded_uncertainty");
  c.expanded_uncertainty = number(un);
  if (c.expanded_uncertainty < 0) un.fail("expanded uncertainty must not be negative");
  const ConfigNode kn = n.get("coverage_factor");
  c.coverage_factor = number(kn);
  if (c.coverage_factor <= 0) kn.fail("coverage factor must be > 0");
  const ConfigNode mpe = n.get("mpe");
  c.mpe_in_service = parse_mpe(mpe.get("in_service"));
  c.mpe_initial = mpe.has("initial") ? parse_mpe(mpe.get("initial")) : c.mpe_in_service;
  mpe.finish();
  const ConfigNode range = n.get("measuring_range");
  c.range_min = number(range.get("min"));
  c.range_max = number(range.get("max"));
  if (c.range_min > c.range_max) range.fail("range min is above max");
  range.finish();
  c.conformity = n.get_string("conformity", "");
  c.lab_key_id = required_string(n, "lab_key_id");
  c.signature_alg = n.get_string("signature_alg", "Ed25519");
  if (auto s = n.maybe("signature")) {
    const std::string text = s->is_null() ? std::string() : s->as_string();
    auto bytes = engine::from_hex(text);
    if (!bytes) s->fail("signature must be hex");
    c.signature = std::move(*bytes);
  }
  n.finish();
  return c;
}

std::optional<RefusedCertificate> check_signature(const CalibrationCertificate& c,
                                                  const TrustList& trust,
                                                  const std::string& where) {
  const LabKey* k = nullptr;
  if (auto r = precheck(c, trust, where, &k)) return r;
  const std::string canon = canonical_bytes(c);
  const crypto::Ed25519Job job{k->public_key.data(), c.signature.data(),
                               reinterpret_cast<const uint8_t*>(canon.data()), canon.size()};
  if (!crypto::ed25519_verify(job)) return bad_signature(c, where);
  return std::nullopt;
}

CertificateOutcome load_certificate(const ConfigNode& node, const TrustList& trust) {
  CertificateOutcome o;
  try {
    CalibrationCertificate c = parse_certificate(node);
    o.refused = check_signature(c, trust, location(node));
    if (!o.refused) o.cert = std::move(c);
  } catch (const ConfigError& e) {
    o.refused = invalid(node, e);
  }
  return o;
}

std::vector<CalibrationCertificate> load_certificates_file(const std::string& path,
                                                           const TrustList& trust,
                                                           CertificatesLoadReport& report,
                                                           const IdentityRegistry* identity) {
  // A directory of certificate files, or one DCC document (dispatched on content).
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return load_certificates_dir(path, trust, report, identity);
  if (is_xml_file(path)) return load_dcc_file(path, trust, report, identity);
  const int64_t t0 = engine::monotonic_ns();
  // Parse and check against the trust list serially; verify the signatures in parallel
  // batches (a fleet of 100k certificates loads in seconds, not minutes).
  std::vector<CalibrationCertificate> parsed;
  std::vector<std::string> where;
  std::vector<const LabKey*> keys;
  const ConfigNode root = ConfigNode::load_file(path);
  const ConfigNode list = root.get("certificates");
  root.finish();
  std::unordered_set<std::string> ids;
  for (const ConfigNode& item : list.items()) {
    try {
      CalibrationCertificate c = parse_certificate(item);
      if (!ids.insert(c.certificate_id).second)
        item.get("certificate_id").fail("duplicate certificate_id (the first one is kept)");
      const LabKey* k = nullptr;
      if (auto r = precheck(c, trust, location(item), &k)) {
        report.refused.push_back(std::move(*r));
        continue;
      }
      parsed.push_back(std::move(c));
      where.push_back(location(item));
      keys.push_back(k);
    } catch (const ConfigError& e) {
      report.refused.push_back(invalid(item, e));
    }
  }
  const int64_t t1 = engine::monotonic_ns();
  std::vector<std::string> canon(parsed.size());
  std::vector<crypto::Ed25519Job> jobs(parsed.size());
  std::vector<uint8_t> ok(parsed.size(), 0);
  constexpr size_t kChunk = 128;
  engine::tsan::parallel_for((parsed.size() + kChunk - 1) / kChunk, [&](size_t t) {
    const size_t s = t * kChunk, e = std::min(parsed.size(), s + kChunk);
    for (size_t i = s; i < e; ++i) {
      canon[i] = canonical_bytes(parsed[i]);
      jobs[i] = {keys[i]->public_key.data(), parsed[i].signature.data(),
                 reinterpret_cast<const uint8_t*>(canon[i].data()), canon[i].size()};
    }
    crypto::ed25519_verify_batch({jobs.data() + s, e - s}, {ok.data() + s, e - s});
  });
  std::vector<CalibrationCertificate> out;
  out.reserve(parsed.size());
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (ok[i]) {
      out.push_back(std::move(parsed[i]));
    } else {
      report.refused.push_back(bad_signature(parsed[i], where[i]));
    }
  }
  report.loaded = out.size();
  report.parse_seconds = static_cast<double>(t1 - t0) * 1e-9;
  report.verify_seconds = static_cast<double>(engine::monotonic_ns() - t1) * 1e-9;
  return out;
}

// ---- snapshot --------------------------------------------------------------------------

namespace {
// Order of preference among certificates valid at the same time: newest calibration wins.
bool newer(const CalibrationCertificate& a, const CalibrationCertificate& b) {
  if (a.valid_from_ns != b.valid_from_ns) return a.valid_from_ns > b.valid_from_ns;
  if (a.issue_date_ns != b.issue_date_ns) return a.issue_date_ns > b.issue_date_ns;
  return a.certificate_id > b.certificate_id;
}
}  // namespace

CertLookup CalibrationRegistry::select(const HotCertificate* first, size_t n, int64_t t) {
  const HotCertificate* valid = nullptr;
  const HotCertificate* expired = nullptr;  // latest valid_until before t
  const HotCertificate* future = nullptr;   // earliest valid_from after t
  for (const HotCertificate* h = first; h != first + n; ++h) {
    if (t < h->valid_from_ns) {
      if (future == nullptr || h->valid_from_ns < future->valid_from_ns) future = h;
    } else if (t > h->valid_until_ns) {
      if (expired == nullptr || h->valid_until_ns > expired->valid_until_ns) expired = h;
    } else if (valid == nullptr || newer(*h->cert, *valid->cert)) {
      valid = h;
    }
  }
  const HotCertificate* h = valid != nullptr ? valid : expired != nullptr ? expired : future;
  const CertStatus st = valid != nullptr     ? CertStatus::kValid
                        : expired != nullptr ? CertStatus::kExpired
                                             : CertStatus::kNotYetValid;
  return {st, h->cert, h, h->stable_id};
}

const CalibrationRegistry::Slot CalibrationRegistry::kEmptySlot{};
const HotCertificate CalibrationRegistry::kNoCertificate{};

CertLookup CalibrationRegistry::lookup(std::string_view sensor_id, int64_t t) const {
  return lookup(sensor_id, hash_of(sensor_id), t);
}

CertLookup CalibrationRegistry::lookup(std::string_view sensor_id, uint64_t h, int64_t t) const {
  if (!finalized_) {
    auto it = by_sensor_.find(sensor_id);
    if (it == by_sensor_.end() || it->second.hot.empty()) return {};
    return select(it->second.hot.data(), it->second.hot.size(), t);
  }
  if (slots_.empty()) return {};
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.count == 0) return {};
    if (s.hash != h) continue;
    const bool eq = s.key_len == kLongKey ? flat_[s.first].cert->sensor_id == sensor_id
                                          : std::string_view(s.key, s.key_len) == sensor_id;
    if (eq) return select(&flat_[s.first], s.count, t);
  }
}

std::string_view CalibrationRegistry::intern(const std::string& s) {
  return *strings_.insert(s).first;
}

void CalibrationRegistry::put(std::shared_ptr<const CalibrationCertificate> cert,
                              std::string_view stable_id) {
  erase(cert->certificate_id);
  finalized_ = false;
  slot_base_ = &kEmptySlot;
  slot_mask_ = 0;
  flat_base_ = &kNoCertificate;
  const CalibrationCertificate& c = *cert;
  HotCertificate h;
  h.valid_from_ns = c.valid_from_ns;
  h.valid_until_ns = c.valid_until_ns;
  h.quantity = intern(c.quantity);
  h.unit = intern(c.unit);
  h.offset = c.correction.offset;
  h.gain = c.correction.gain;
  h.poly_far = c.correction.poly.data();
  h.poly_size = static_cast<uint32_t>(c.correction.poly.size());
  for (uint32_t i = 0; i < h.poly_size && i < HotCertificate::kInlinePoly; ++i)
    h.poly_inline[i] = c.correction.poly[i];
  h.conformity_fail = c.conformity == "fail";
  h.expanded_uncertainty = c.expanded_uncertainty;
  h.coverage_factor = c.coverage_factor;
  h.range_min = c.range_min;
  h.range_max = c.range_max;
  h.mpe_initial = c.mpe_initial;
  h.mpe_in_service = c.mpe_in_service;
  h.stable_id = stable_id.empty() ? std::string_view(c.certificate_id) : stable_id;
  h.cert = &c;
  by_id_.insert_or_assign(c.certificate_id, c.sensor_id);
  PerSensor& v = by_sensor_[c.sensor_id];
  size_t pos = 0;
  while (pos < v.owners.size() && v.owners[pos]->valid_from_ns <= c.valid_from_ns) ++pos;
  v.owners.insert(v.owners.begin() + static_cast<std::ptrdiff_t>(pos), std::move(cert));
  v.hot.insert(v.hot.begin() + static_cast<std::ptrdiff_t>(pos), h);
}

bool CalibrationRegistry::erase(std::string_view certificate_id) {
  auto it = by_id_.find(certificate_id);
  if (it == by_id_.end()) return false;
  finalized_ = false;
  slot_base_ = &kEmptySlot;
  slot_mask_ = 0;
  flat_base_ = &kNoCertificate;
  auto s = by_sensor_.find(it->second);
  if (s != by_sensor_.end()) {
    PerSensor& v = s->second;
    for (size_t i = 0; i < v.owners.size(); ++i) {
      if (v.owners[i]->certificate_id != certificate_id) continue;
      v.owners.erase(v.owners.begin() + static_cast<std::ptrdiff_t>(i));
      v.hot.erase(v.hot.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
    if (v.owners.empty()) by_sensor_.erase(s);
  }
  by_id_.erase(it);
  return true;
}

void CalibrationRegistry::attach_identity(std::shared_ptr<const IdentityRegistry> identity) {
  identity_ = std::move(identity);
  finalized_ = false;
  slot_base_ = &kEmptySlot;
  slot_mask_ = 0;
  flat_base_ = &kNoCertificate;
}

void CalibrationRegistry::attach(HotCertificate& h, const SensorInfo* info) {
  h.identity_attached = true;
  h.identity_known = info != nullptr;
  h.info = info;
  if (info == nullptr) return;
  h.id_quantity = info->quantity.empty() ? std::string_view() : intern(info->quantity);
  h.id_unit = info->unit.empty() ? std::string_view() : intern(info->unit);
  h.id_has_min = info->range_min.has_value();
  h.id_has_max = info->range_max.has_value();
  h.id_range_min = info->range_min.value_or(0);
  h.id_range_max = info->range_max.value_or(0);
  h.fw_count = static_cast<uint32_t>(info->approved_firmware.size());
  for (uint32_t i = 0; i < h.fw_count && i < HotCertificate::kInlineFirmware; ++i)
    h.fw_inline[i] = info->approved_firmware[i];
}

void CalibrationRegistry::finalize() {
  slot_base_ = &kEmptySlot;
  slot_mask_ = 0;
  flat_base_ = &kNoCertificate;
  flat_.clear();
  slots_.clear();
  if (!by_sensor_.empty()) {
    size_t cap = 16;
    while (cap < by_sensor_.size() * 2) cap *= 2;
    slots_.resize(cap);
    flat_.reserve(by_id_.size());
    const size_t mask = cap - 1;
    for (const auto& [sensor, v] : by_sensor_) {
      const uint64_t h = hash_of(sensor);
      size_t i = h & mask;
      while (slots_[i].count != 0) i = (i + 1) & mask;
      Slot& s = slots_[i];
      s.hash = h;
      s.first = static_cast<uint32_t>(flat_.size());
      s.count = static_cast<uint16_t>(std::min<size_t>(v.hot.size(), UINT16_MAX));
      if (sensor.size() < sizeof s.key) {
        s.key_len = static_cast<uint8_t>(sensor.size());
        std::memcpy(s.key, sensor.data(), sensor.size());
      } else {
        s.key_len = kLongKey;
      }
      const size_t at = flat_.size();
      flat_.insert(flat_.end(), v.hot.begin(), v.hot.begin() + s.count);
      if (identity_) {
        const SensorInfo* info = identity_->find_sensor(sensor);
        for (size_t k = at; k < flat_.size(); ++k) attach(flat_[k], info);
      }
    }
  }
  if (!slots_.empty()) {
    slot_base_ = slots_.data();
    slot_mask_ = slots_.size() - 1;
    flat_base_ = flat_.data();
  }
  finalized_ = true;
}

// ---- intern pool -----------------------------------------------------------------------

std::string_view InternPool::intern(std::string_view s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(s);
  if (it != index_.end()) return *it;
  const std::string& stored = store_.emplace_back(s);
  const std::string_view v = stored;
  index_.insert(v);
  return v;
}

size_t InternPool::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.size();
}

// ---- live store ------------------------------------------------------------------------

CalibrationStore::CalibrationStore(CalibrationStoreConfig config,
                                   std::shared_ptr<engine::AuditLog> audit)
    : LiveSource("calibration", config.reload_interval_ms, std::move(audit)),
      config_(std::move(config)) {
  registry_.store(std::make_shared<CalibrationRegistry>());
  load_files();  // throws: a store that cannot read its files at start is a config error
  std::vector<std::string> files{config_.trust_path};
  if (!config_.certificates_path.empty()) files.push_back(config_.certificates_path);
  watch_files(std::move(files));
  if (!config_.topic.empty())
    follow_topic({config_.topic_kafka, config_.topic},
                 [this](std::string_view k, std::optional<std::string_view> v,
                        const std::string& w) { on_topic_message(k, v, w); });
}

CalibrationStore::~CalibrationStore() {
  stop();
}

std::string CalibrationStore::describe() const {
  std::string d = "calibration registry";
  if (!config_.certificates_path.empty()) d += " " + config_.certificates_path;
  if (!config_.topic.empty()) d += " + topic " + config_.topic;
  return d + " (trust " + config_.trust_path + ")";
}

bool CalibrationStore::reload_files() {
  try {
    load_files();
    return true;
  } catch (const ConfigError& e) {
    engine::log_error("calibration_registry", "load refused; keeping the previous certificates",
                      {{"error", e.what()}});
    return false;
  }
}

void CalibrationStore::load_files() {
  std::vector<std::string> trust_refused;
  std::shared_ptr<const TrustList> trust = load_trust_list(config_.trust_path, trust_refused);
  for (const auto& r : trust_refused)
    engine::log_error("calibration_registry", "trust list entry refused", {{"detail", r}});
  std::vector<CalibrationCertificate> certs;
  CertificatesLoadReport report;
  // The sensors' units for DCC imports (a unit change reaches DCC certificates at their next
  // reload).
  const std::shared_ptr<const IdentityRegistry> identity =
      config_.identity ? config_.identity->current() : nullptr;
  if (!config_.certificates_path.empty())
    certs = load_certificates_file(config_.certificates_path, *trust, report, identity.get());
  for (auto& r : report.refused) refuse(std::move(r));
  std::vector<RegisteredCertificate> shared;
  shared.reserve(certs.size());
  for (auto& c : certs) {
    const std::string_view id = intern(c.certificate_id);
    shared.push_back({std::make_shared<const CalibrationCertificate>(std::move(c)), id});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    trust_ = std::move(trust);
    file_certs_ = std::move(shared);
  }
  engine::log_info("calibration_registry", "loaded",
                   {{"path", config_.certificates_path},
                    {"trust", config_.trust_path},
                    {"certificates", std::to_string(report.loaded)},
                    {"refused", std::to_string(report.refused.size())},
                    {"parse_s", std::to_string(report.parse_seconds)},
                    {"verify_s", std::to_string(report.verify_seconds)}});
  publish();
}

int64_t CalibrationStore::file_stamp(const std::string& file) const {
  // A certificates directory changes when a file in it is added, removed or rewritten.
  return file == config_.certificates_path ? certificates_stamp(file)
                                           : LiveSource::file_stamp(file);
}

void CalibrationStore::publish() {
  const int64_t t0 = engine::monotonic_ns();
  std::lock_guard<std::mutex> lock(mu_);
  auto reg = std::make_shared<CalibrationRegistry>();
  for (const auto& e : file_certs_) reg->put(e.cert, e.stable_id);
  for (const auto& [id, entry] : overlay_) {
    if (!entry.cert) {
      reg->erase(id);
      continue;
    }
    // Checked against the trust list when it arrived; a lab key removed, revoked or replaced
    // since then withdraws it (the file's certificates are re-verified on every reload).
    const LabKey* k = trust_->find(entry.cert->lab_key_id);
    if (k == nullptr || k->revoked || k->public_key != entry.lab_public_key) {
      reg->erase(id);
      continue;
    }
    reg->put(entry.cert, entry.stable_id);
  }
  if (config_.identity) reg->attach_identity(config_.identity->current());
  reg->finalize();
  const size_t n = reg->certificate_count();
  registry_.store(std::move(reg));
  published();
  if (config_.on_published) config_.on_published(n);
  engine::log(
      engine::LogLevel::kDebug, "calibration_registry", "published",
      {{"certificates", std::to_string(n)},
       {"seconds", std::to_string(static_cast<double>(engine::monotonic_ns() - t0) * 1e-9)}});
}

void CalibrationStore::refuse(RefusedCertificate r) {
  if (config_.on_refused) config_.on_refused(r);
  engine::log_error("calibration_registry", "certificate refused",
                    {{"reason", std::string(cert_refusal_name(r.reason))},
                     {"certificate_id", r.certificate_id},
                     {"detail", r.message}});
  {
    std::lock_guard<std::mutex> lock(refusals_mu_);
    if (refusals_.size() >= config_.max_pending_refusals) {
      refusals_dropped_.fetch_add(1);
    } else {
      refusals_.push_back(std::move(r));
      pending_.store(refusals_.size(), std::memory_order_relaxed);
    }
  }
  // Counted last: whoever sees the count finds the refusal already queued (or dropped).
  refused_total_.fetch_add(1);
}

std::vector<RefusedCertificate> CalibrationStore::take_refusals() {
  std::lock_guard<std::mutex> lock(refusals_mu_);
  std::vector<RefusedCertificate> out;
  out.swap(refusals_);
  pending_.store(0, std::memory_order_relaxed);
  return out;
}

void CalibrationStore::on_topic_message(std::string_view key, std::optional<std::string_view> value,
                                        const std::string& where) {
  if (key.empty()) {
    refuse({CertRefusal::kInvalid, "", "", where + ": message without a key (certificate_id)"});
    return;
  }
  if (!value) {
    std::lock_guard<std::mutex> lock(mu_);
    overlay_[std::string(key)] = OverlayEntry{};  // tombstone
    return;
  }
  std::shared_ptr<const TrustList> trust;
  const std::shared_ptr<const IdentityRegistry> identity =
      config_.identity ? config_.identity->current() : nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    trust = trust_;
  }
  CertificateOutcome o;
  if (looks_like_xml(*value)) {  // a DCC document
    DccOutcome d = import_dcc(*value, where, *trust, identity.get());
    if (d.import) o.cert = std::move(d.import->cert);
    o.refused = std::move(d.refused);
    if (o.refused && o.refused->certificate_id.empty())
      o.refused->certificate_id = std::string(key);
  } else {
    try {
      const ConfigNode node = ConfigNode::load_string(std::string(*value), where);
      o = load_certificate(node, *trust);
    } catch (const ConfigError& e) {
      o.refused = RefusedCertificate{CertRefusal::kInvalid, std::string(key), "", e.what()};
    }
  }
  if (o.cert && o.cert->certificate_id != key) {
    o.refused = RefusedCertificate{
        CertRefusal::kInvalid, std::string(key), o.cert->sensor_id,
        where + ": message key differs from certificate_id '" + o.cert->certificate_id + "'"};
    o.cert.reset();
  }
  if (o.refused) {
    refuse(std::move(*o.refused));
    return;
  }
  OverlayEntry entry;
  entry.stable_id = intern(o.cert->certificate_id);
  entry.lab_public_key = trust->find(o.cert->lab_key_id)->public_key;
  entry.cert = std::make_shared<const CalibrationCertificate>(std::move(*o.cert));
  std::lock_guard<std::mutex> lock(mu_);
  overlay_[std::string(key)] = std::move(entry);
}

}  // namespace assay::registries
