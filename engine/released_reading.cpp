#include "engine/released_reading.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "schemas/reading_generated.h"

namespace assay::engine {

namespace {

const PrivacyEdit* edit_of(std::span<const PrivacyEdit> edits, uint32_t r, uint32_t attr) {
  for (const PrivacyEdit& e : edits)
    if (e.row == r && e.attr == attr) return &e;
  return nullptr;
}

std::string_view pseudonym(const PrivacyEdit& e) {
  return {e.pseudonym.data(), e.pseudonym.size()};
}

}  // namespace

ReleasedParts encode_released(flatbuffers::FlatBufferBuilder& fbb, const Batch& b, uint32_t r,
                              std::span<const PrivacyEdit> edits) {
  const wire::Reading* rd = b.row_reading[r];
  ReleasedParts out;
  out.signed_bytes_sha256 = fbb.CreateVector(edits.front().frame_sha256.data(), 32);
  std::vector<std::string_view> names;
  for (const PrivacyEdit& e : edits)
    if (std::find(names.begin(), names.end(), e.rule) == names.end()) names.push_back(e.rule);
  std::vector<flatbuffers::Offset<flatbuffers::String>> name_offsets;
  for (std::string_view n : names) name_offsets.push_back(fbb.CreateString(n));
  out.rules = fbb.CreateVector(name_offsets);

  const PrivacyEdit* sid = edit_of(edits, r, UINT32_MAX);
  const auto sensor =
      fbb.CreateString(sid != nullptr ? pseudonym(*sid) : rd->sensor_id()->string_view());
  const auto quantity = rd->quantity() != nullptr ? fbb.CreateString(rd->quantity()) : 0;
  const auto unit = rd->unit() != nullptr ? fbb.CreateString(rd->unit()) : 0;
  const auto firmware =
      rd->firmware_sha256() != nullptr
          ? fbb.CreateVector(rd->firmware_sha256()->data(), rd->firmware_sha256()->size())
          : 0;
  const auto request = rd->request_id() != nullptr ? fbb.CreateString(rd->request_id()) : 0;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::Attribute>>> attrs = 0;
  if (const auto* in = rd->attributes()) {
    std::vector<flatbuffers::Offset<wire::Attribute>> kept;
    for (uint32_t i = 0; i < in->size(); ++i) {
      const auto* a = in->Get(i);
      const PrivacyEdit* e = edit_of(edits, r, i);
      if (e != nullptr && e->drop) continue;
      const auto k = a->key() != nullptr ? fbb.CreateString(a->key()) : 0;
      const auto v = e != nullptr            ? fbb.CreateString(pseudonym(*e))
                     : a->value() != nullptr ? fbb.CreateString(a->value())
                                             : 0;
      kept.push_back(wire::CreateAttribute(fbb, k, v));
    }
    attrs = fbb.CreateVector(kept);
  }
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(sensor);
  rb.add_seq(rd->seq());
  rb.add_time_ns(rd->time_ns());
  if (!quantity.IsNull()) rb.add_quantity(quantity);
  if (!unit.IsNull()) rb.add_unit(unit);
  rb.add_value(rd->value());
  rb.add_std_uncertainty(rd->std_uncertainty());
  if (!firmware.IsNull()) rb.add_firmware_sha256(firmware);
  rb.add_kind(rd->kind());
  rb.add_reference_value(rd->reference_value());
  if (!attrs.IsNull()) rb.add_attributes(attrs);
  if (!request.IsNull()) rb.add_request_id(request);
  out.reading = rb.Finish();
  return out;
}

}  // namespace assay::engine
