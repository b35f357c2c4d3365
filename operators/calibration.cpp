#include "operators/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/audit_log.hpp"
#include "registries/pipeline.hpp"
#include "engine/log.hpp"
#include "registries/certificate_sources.hpp"
#include "schemas/reading_generated.h"

namespace assay::operators {

using registries::CertStatus;
using engine::RejectCode;
using wire::CalibrationVerdict;

namespace {

constexpr std::string_view kVerdictNames[kCalibrationVerdictCount] = {"not_checked",
                                                                      "in_tolerance",
                                                                      "out_of_tolerance",
                                                                      "no_certificate",
                                                                      "certificate_expired",
                                                                      "certificate_not_yet_valid",
                                                                      "outside_measuring_range",
                                                                      "quantity_mismatch",
                                                                      "unit_mismatch",
                                                                      "firmware_not_approved",
                                                                      "indeterminate"};

RejectCode code_of(CalibrationVerdict v) {
  switch (v) {
    case CalibrationVerdict::OutOfTolerance:
      return RejectCode::kCalOutOfTolerance;
    case CalibrationVerdict::NoCertificate:
      return RejectCode::kCalNoCertificate;
    case CalibrationVerdict::CertificateExpired:
      return RejectCode::kCalExpired;
    case CalibrationVerdict::CertificateNotYetValid:
      return RejectCode::kCalNotYetValid;
    case CalibrationVerdict::OutsideMeasuringRange:
      return RejectCode::kCalOutsideRange;
    case CalibrationVerdict::QuantityMismatch:
      return RejectCode::kCalQuantityMismatch;
    case CalibrationVerdict::UnitMismatch:
      return RejectCode::kCalUnitMismatch;
    case CalibrationVerdict::FirmwareNotApproved:
      return RejectCode::kCalFirmwareNotApproved;
    case CalibrationVerdict::Indeterminate:
      return RejectCode::kCalIndeterminate;
    default:
      return RejectCode::kNone;
  }
}

double mpe_at(const registries::Mpe& m, double value) {
  return m.absolute + m.relative * std::fabs(value);
}

// What the identity registry says about a sensor, from a HotCertificate or a SensorInfo.
struct Identity {
  bool known = false;
  std::string_view quantity, unit;
  bool has_min = false, has_max = false;
  double range_min = 0, range_max = 0;
  uint32_t fw_count = 0;
  const std::array<uint8_t, 32>* fw_inline = nullptr;  // first min(fw_count, n_inline) hashes
  uint32_t n_inline = 0;
  const registries::SensorInfo* info = nullptr;  // all hashes

  static Identity of(const registries::HotCertificate& h) {
    Identity id;
    id.known = h.identity_known;
    id.quantity = h.id_quantity;
    id.unit = h.id_unit;
    id.has_min = h.id_has_min;
    id.has_max = h.id_has_max;
    id.range_min = h.id_range_min;
    id.range_max = h.id_range_max;
    id.fw_count = h.fw_count;
    id.fw_inline = h.fw_inline.data();
    id.n_inline = std::min(h.fw_count, registries::HotCertificate::kInlineFirmware);
    id.info = h.info;
    return id;
  }
  static Identity of(const registries::SensorInfo* info) {
    Identity id;
    if (info == nullptr) return id;
    id.known = true;
    id.quantity = info->quantity;
    id.unit = info->unit;
    id.has_min = info->range_min.has_value();
    id.has_max = info->range_max.has_value();
    id.range_min = info->range_min.value_or(0);
    id.range_max = info->range_max.value_or(0);
    id.fw_count = static_cast<uint32_t>(info->approved_firmware.size());
    id.info = info;
    return id;
  }
  bool firmware_approved(const wire::Reading& rd) const {
    const auto* fw = rd.firmware_sha256();
    if (fw == nullptr || fw->size() != 32) return false;
    for (uint32_t i = 0; i < n_inline; ++i)
      if (std::memcmp(fw_inline[i].data(), fw->data(), 32) == 0) return true;
    if (fw_count <= n_inline) return false;
    for (const auto& h : info->approved_firmware)
      if (std::memcmp(h.data(), fw->data(), 32) == 0) return true;
    return false;
  }
};

std::string_view str(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : s->string_view();
}

}  // namespace

std::string_view calibration_verdict_name(CalibrationVerdict v) {
  const auto i = static_cast<size_t>(v);
  return i < kCalibrationVerdictCount ? kVerdictNames[i] : std::string_view("unknown");
}

CalibrationConfig::CalibrationConfig() {
  reject.fill(true);
  reject[static_cast<size_t>(CalibrationVerdict::NotChecked)] = false;
  reject[static_cast<size_t>(CalibrationVerdict::InTolerance)] = false;
}

CalibrationResult evaluate_calibration(const wire::Reading& rd,
                                       const registries::CalibrationRegistry& certs,
                                       const registries::IdentityRegistry* identity,
                                       DecisionRule rule, bool use_initial_mpe) {
  return decide_calibration(rd, certs.lookup(str(rd.sensor_id()), rd.time_ns()), identity, rule,
                            use_initial_mpe);
}

CalibrationResult decide_calibration(const wire::Reading& rd, const registries::CertLookup& found,
                                     const registries::IdentityRegistry* identity,
                                     DecisionRule rule, bool use_initial_mpe) {
  CalibrationResult out;
  const double x = rd.value();
  const double u = rd.std_uncertainty();
  const bool reference = rd.kind() == wire::ReadingKind::ReferenceCheck;
  const double ref = rd.reference_value();
  out.corrected = x;
  out.expanded = 2 * u;
  auto verdict = [&](CalibrationVerdict v, RejectCode code = RejectCode::kNone) {
    out.verdict = v;
    out.code = code == RejectCode::kNone ? code_of(v) : code;
    return out;
  };
  // 1. Numbers that allow no decision at all.
  if (!std::isfinite(x) || !std::isfinite(u) || (reference && !std::isfinite(ref))) {
    out.expanded = 0;
    return verdict(CalibrationVerdict::Indeterminate, RejectCode::kValueNotFinite);
  }
  if (u < 0) return verdict(CalibrationVerdict::Indeterminate);
  // 2. The instrument itself: firmware approved by the identity registry. What the registry
  // says comes with the certificate when the snapshot has it attached (no second lookup).
  Identity id;
  if (found.hot != nullptr && found.hot->identity_attached) {
    id = Identity::of(*found.hot);
  } else if (identity != nullptr) {
    id = Identity::of(identity->find_sensor(str(rd.sensor_id())));
  }
  if (id.fw_count != 0 && !id.firmware_approved(rd))
    return verdict(CalibrationVerdict::FirmwareNotApproved);
  // 3. A certificate valid at the reading's time.
  out.certificate_id = found.stable_id;
  switch (found.status) {
    case CertStatus::kValid:
      break;
    case CertStatus::kNoCertificate:
      return verdict(CalibrationVerdict::NoCertificate);
    case CertStatus::kExpired:
      return verdict(CalibrationVerdict::CertificateExpired);
    case CertStatus::kNotYetValid:
      return verdict(CalibrationVerdict::CertificateNotYetValid);
  }
  const registries::HotCertificate& c = *found.hot;
  // 4. Same measurand: the reading's quantity/unit (or, if it states none, the registry's).
  std::string_view q = str(rd.quantity()), un = str(rd.unit());
  if (id.known) {
    if (q.empty()) q = id.quantity;
    if (un.empty()) un = id.unit;
    if (!id.quantity.empty() && id.quantity != c.quantity)
      return verdict(CalibrationVerdict::QuantityMismatch);
    if (!id.unit.empty() && id.unit != c.unit) return verdict(CalibrationVerdict::UnitMismatch);
  }
  if (!q.empty() && q != c.quantity) return verdict(CalibrationVerdict::QuantityMismatch);
  if (!un.empty() && un != c.unit) return verdict(CalibrationVerdict::UnitMismatch);
  // 5. Correction y = offset + gain x + sum poly[i] x^(i+2), its sensitivity dy/dx, and the
  // combined uncertainty u_c = sqrt((dy/dx * u)^2 + (U_cert / k_cert)^2); U = k_cert * u_c.
  double y = c.offset + c.gain * x;
  double dydx = c.gain;
  double xp = x;  // x^(i+1)
  const double* poly = c.poly();
  for (uint32_t i = 0; i < c.poly_size; ++i) {
    const double a = poly[i];
    dydx += static_cast<double>(i + 2) * a * xp;
    xp *= x;
    y += a * xp;
  }
  const double u_cert = c.expanded_uncertainty / c.coverage_factor;
  const double u_c = std::hypot(dydx * u, u_cert);
  const double big_u = c.coverage_factor * u_c;
  if (!std::isfinite(y) || !std::isfinite(big_u)) {
    out.expanded = 0;
    return verdict(CalibrationVerdict::Indeterminate, RejectCode::kValueNotFinite);
  }
  out.corrected = y;
  out.expanded = big_u;
  out.coverage = c.coverage_factor;
  // The MPE applies at the value of the measurand: the reference standard's known value for a
  // reference check, the corrected value otherwise.
  const double at = reference ? ref : y;
  out.mpe = mpe_at(c.mpe_in_service, at);
  // 6. Inside the calibrated measuring range (and the registry's range, if it states one).
  if (y < c.range_min || y > c.range_max) return verdict(CalibrationVerdict::OutsideMeasuringRange);
  if ((id.has_min && y < id.range_min) || (id.has_max && y > id.range_max))
    return verdict(CalibrationVerdict::OutsideMeasuringRange);
  // 7. Conformity. A certificate whose conformity statement is "fail" says the instrument
  // does not conform: every reading under it is out of tolerance.
  if (c.conformity_fail) return verdict(CalibrationVerdict::OutOfTolerance);
  const registries::Mpe& m = use_initial_mpe ? c.mpe_initial : c.mpe_in_service;
  if (m.absolute == 0 && m.relative == 0) return verdict(CalibrationVerdict::Indeterminate);
  const double mpe = mpe_at(m, at);
  if (!reference) {
    // No reference, no error to compare: the instrument is fit for the tolerance if the
    // expanded uncertainty of its corrected reading does not exceed the MPE.
    return verdict(big_u <= mpe ? CalibrationVerdict::InTolerance
                                : CalibrationVerdict::OutOfTolerance);
  }
  return verdict(decide_tolerance(std::fabs(y - ref), big_u, mpe, rule));
}

CalibrationVerdict decide_tolerance(double e, double big_u, double mpe, DecisionRule rule) {
  if (rule == DecisionRule::kSimple)
    return e <= mpe ? CalibrationVerdict::InTolerance : CalibrationVerdict::OutOfTolerance;
  if (e + big_u <= mpe) return CalibrationVerdict::InTolerance;
  if (e - big_u > mpe) return CalibrationVerdict::OutOfTolerance;
  return CalibrationVerdict::Indeterminate;
}

Calibration::Calibration(CalibrationConfig config) : config_(std::move(config)) {
  if (!config_.store) throw std::invalid_argument("calibration needs a calibration registry");
}

void Calibration::process(engine::Batch& b, engine::OperatorState*,
                          engine::OperatorContext& ctx) const {
  // Certificates refused since the last batch become alerts on this one (anchored to its
  // first frame, so the offset tracker accounts them like any output of that frame).
  if (config_.store->has_refusals() && !b.frames.empty()) {
    for (auto& r : config_.store->take_refusals()) {
      engine::AlertEvent a;
      a.sensor_id = std::move(r.sensor_id);
      a.kind = "calibration.certificate_refused";
      a.level = 1;  // Warning
      a.message = std::string(registries::cert_refusal_name(r.reason)) + ": certificate '" +
                  r.certificate_id + "': " + r.message;
      a.trigger_time_ns = ctx.now_ns;
      a.frame = 0;
      b.alerts.push_back(std::move(a));
    }
  }
  const auto certs = config_.store->snapshot();
  const registries::IdentityRegistry* identity = certs->identity();
  // Software-pipelined lookups: in a fleet of 100k sensors every lookup misses the caches, so
  // the index slot of row i+16 and the certificates of row i+8 are prefetched while row i is
  // decided.
  constexpr size_t kSlotAhead = 16, kCertAhead = 8;
  const size_t n = b.sel.size();
  thread_local std::vector<uint64_t> hashes;
  hashes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const wire::Reading* rd = b.row_reading[b.sel[i]];
    hashes[i] = rd == nullptr ? 0 : registries::CalibrationRegistry::hash_of(str(rd->sensor_id()));
  }
  for (size_t i = 0; i < std::min(n, kSlotAhead); ++i) certs->prefetch_slot(hashes[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotAhead < n) certs->prefetch_slot(hashes[i + kSlotAhead]);
    if (i + kCertAhead < n) certs->prefetch_certificates(hashes[i + kCertAhead]);
    const uint32_t r = b.sel[i];
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr) continue;
    const CalibrationResult res =
        decide_calibration(*rd, certs->lookup(str(rd->sensor_id()), hashes[i], rd->time_ns()),
                           identity, config_.rule, config_.use_initial_mpe);
    b.row_calibration[r] = static_cast<uint8_t>(res.verdict);
    b.row_corrected[r] = res.corrected;
    b.row_expanded_unc[r] = res.expanded;
    b.row_coverage[r] = res.coverage;
    b.row_mpe[r] = res.mpe;
    b.row_cert_id[r] = res.certificate_id;
    if (config_.reject[static_cast<size_t>(res.verdict)]) b.reject_row(r, res.code, ctx.stage);
  }
}

std::unique_ptr<engine::Operator> Calibration::from_config(const engine::ConfigNode& c,
                                                           engine::BuildContext& ctx) {
  CalibrationConfig cfg;
  cfg.store = registries::calibration_store_for(c, ctx);
  if (!cfg.store)
    c.fail("calibration needs `certificates` (a file), `certificates_topic`, or both (with "
           "`trust`), or the pipeline's `registries.calibration`");
  if (auto n = c.maybe("decision_rule")) {
    const std::string s = n->as_string();
    if (s == "guarded") {
      cfg.rule = DecisionRule::kGuarded;
    } else if (s == "simple") {
      cfg.rule = DecisionRule::kSimple;
    } else {
      n->fail("unknown decision_rule '" + s + "' (guarded, simple)");
    }
  }
  if (auto n = c.maybe("use_mpe")) {
    const std::string s = n->as_string();
    if (s != "in_service" && s != "initial") n->fail("use_mpe must be in_service or initial");
    cfg.use_initial_mpe = s == "initial";
  }
  if (auto n = c.maybe("reject")) {
    cfg.reject.fill(false);
    for (const engine::ConfigNode& item : n->items()) {
      const std::string s = item.as_string();
      size_t i = 1;
      while (i < kCalibrationVerdictCount && kVerdictNames[i] != s) ++i;
      if (i == kCalibrationVerdictCount)
        item.fail("unknown verdict '" + s +
                  "' (in_tolerance, out_of_tolerance, no_certificate, certificate_expired, "
                  "certificate_not_yet_valid, outside_measuring_range, quantity_mismatch, "
                  "unit_mismatch, firmware_not_approved, indeterminate)");
      cfg.reject[i] = true;
    }
  }
  return std::make_unique<Calibration>(std::move(cfg));
}

}  // namespace assay::operators
