#include "engine/trusted_group.hpp"

#include "schemas/reading_batch_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"

namespace assay::engine {
namespace {

// Entry i of an optional per-reading vector, or `own` where the vector is absent.
template <typename T, typename V>
T at_or(const V* v, size_t i, T own) {
  return v != nullptr ? static_cast<T>(v->Get(static_cast<flatbuffers::uoffset_t>(i))) : own;
}

template <typename V>
bool fits(const V* v, size_t n) {
  return v == nullptr || v->size() == n;
}

std::string_view view(const flatbuffers::String* s) {
  return s != nullptr ? s->string_view() : std::string_view();
}

}  // namespace

bool trusted_entries(const wire::TrustedReading& t, std::vector<TrustedEntry>* out,
                     std::string* why) {
  out->clear();
  const wire::Provenance* p = t.provenance();
  TrustedEntry own;
  own.reading_index = t.reading_index();
  own.signature_verdict = t.signature_verdict();
  own.calibration_verdict = t.calibration_verdict();
  own.drift_level = t.drift_level();
  own.drift_statistic = t.drift_statistic();
  own.anomaly_flags = t.anomaly_flags();
  own.calibration_certificate_id = p != nullptr ? view(p->calibration_certificate_id()) : "";
  own.corrected_value = t.corrected_value();
  own.expanded_uncertainty = t.expanded_uncertainty();
  own.coverage_factor = t.coverage_factor();
  const auto* idx = t.group_reading_indexes();
  if (idx == nullptr) {
    const bool stray = t.group_signature_verdicts() || t.group_calibration_verdicts() ||
                       t.group_drift_levels() || t.group_drift_statistics() ||
                       t.group_anomaly_flags() || t.group_calibration_certificate_ids() ||
                       t.group_corrected_values() || t.group_expanded_uncertainties() ||
                       t.group_coverage_factors();
    if (stray) {
      *why = "group fields without group_reading_indexes";
      return false;
    }
    out->push_back(own);
    return true;
  }
  const size_t n = idx->size();
  const auto* corrected = t.group_corrected_values();
  const auto* unc = t.group_expanded_uncertainties();
  const auto* k = t.group_coverage_factors();
  if (n == 0) {
    *why = "group_reading_indexes is empty";
    return false;
  }
  if (!fits(t.group_signature_verdicts(), n) || !fits(t.group_calibration_verdicts(), n) ||
      !fits(t.group_drift_levels(), n) || !fits(t.group_drift_statistics(), n) ||
      !fits(t.group_anomaly_flags(), n) || !fits(t.group_calibration_certificate_ids(), n) ||
      !fits(corrected, n) || !fits(unc, n) || !fits(k, n)) {
    *why =
        "a group_* vector's length differs from group_reading_indexes' (" + std::to_string(n) + ")";
    return false;
  }
  if ((corrected == nullptr) != (unc == nullptr) || (corrected == nullptr) != (k == nullptr)) {
    *why =
        "group_corrected_values, group_expanded_uncertainties and group_coverage_factors "
        "must be present together";
    return false;
  }
  if (idx->Get(0) != t.reading_index()) {
    *why = "group_reading_indexes does not start with reading_index";
    return false;
  }
  for (flatbuffers::uoffset_t i = 1; i < n; ++i) {
    if (idx->Get(i) <= idx->Get(i - 1)) {
      *why = "group_reading_indexes is not ascending";
      return false;
    }
  }
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    TrustedEntry e;
    e.reading_index = idx->Get(static_cast<flatbuffers::uoffset_t>(i));
    e.signature_verdict = at_or(t.group_signature_verdicts(), i, own.signature_verdict);
    e.calibration_verdict = at_or(t.group_calibration_verdicts(), i, own.calibration_verdict);
    e.drift_level = at_or(t.group_drift_levels(), i, own.drift_level);
    e.drift_statistic = at_or(t.group_drift_statistics(), i, own.drift_statistic);
    e.anomaly_flags = at_or(t.group_anomaly_flags(), i, own.anomaly_flags);
    const auto* certs = t.group_calibration_certificate_ids();
    e.calibration_certificate_id = certs != nullptr
                                       ? view(certs->Get(static_cast<flatbuffers::uoffset_t>(i)))
                                       : own.calibration_certificate_id;
    if (corrected != nullptr) {
      const auto j = static_cast<flatbuffers::uoffset_t>(i);
      e.corrected_value = corrected->Get(j);
      e.expanded_uncertainty = unc->Get(j);
      e.coverage_factor = k->Get(j);
    } else if (i == 0) {
      e.corrected_value = own.corrected_value;  // the record's own fields describe its first
      e.expanded_uncertainty = own.expanded_uncertainty;
      e.coverage_factor = own.coverage_factor;
    } else {
      e.values_given = false;
    }
    out->push_back(e);
  }
  return true;
}

SignedReadings::SignedReadings(std::span<const uint8_t> sb) {
  if (sb.size() < 8) return;
  const uint8_t* p = sb.data();
  // (The file identifier compared as a string_view: flatbuffers' strncmp here trips GCC 12's
  // -Wstringop-overread under -O1 with inlining, a false positive.)
  const std::string_view ident(reinterpret_cast<const char*>(p) + 4, 4);
  if (ident == wire::SignedReadingIdentifier()) {
    flatbuffers::Verifier v(p, sb.size());
    if (!wire::VerifySignedReadingBuffer(v)) return;
    const auto* body = wire::GetSignedReading(p)->body();
    if (body == nullptr) return;
    flatbuffers::Verifier bv(body->data(), body->size());
    if (wire::VerifyReadingBuffer(bv)) single_ = wire::GetReading(body->data());
    return;
  }
  if (ident == wire::SignedBatchIdentifier()) {
    flatbuffers::Verifier v(p, sb.size());
    if (!wire::VerifySignedBatchBuffer(v)) return;
    const auto* body = wire::GetSignedBatch(p)->body();
    if (body == nullptr) return;
    flatbuffers::Verifier bv(body->data(), body->size());
    if (wire::VerifyReadingBatchBuffer(bv))
      batch_ = wire::GetReadingBatch(body->data())->readings();
  }
}

const wire::Reading* SignedReadings::get(uint32_t index) const {
  if (single_ != nullptr) return index == 0 ? single_ : nullptr;
  return batch_ != nullptr && index < batch_->size() ? batch_->Get(index) : nullptr;
}

const wire::Reading* reading_in_signed_bytes(std::span<const uint8_t> sb, uint32_t index) {
  return SignedReadings(sb).get(index);
}

void derive_uncorrected(TrustedEntry& e, const wire::Reading& reading) {
  if (e.values_given) return;
  e.corrected_value = reading.value();
  e.expanded_uncertainty = 2.0 * reading.std_uncertainty();
  e.coverage_factor = 2.0;
  e.values_given = true;
}

}  // namespace assay::engine
