#include "engine/signed_bytes.hpp"

#include <algorithm>
#include <cstring>

#include "crypto/sha256.hpp"

namespace assay::engine {
namespace {

std::string str(const flatbuffers::String* s) {
  return s != nullptr ? s->str() : std::string();
}

}  // namespace

std::span<const uint8_t> SignedBytesResolver::resolve(const wire::TrustedReading& t, Missing* why) {
  *why = Missing::kNone;
  const wire::Provenance* p = t.provenance();
  const std::string topic = p != nullptr ? str(p->source_topic()) : std::string();
  const int32_t part = p != nullptr ? p->source_partition() : 0;
  const int64_t offset = p != nullptr ? p->source_offset() : -1;
  const std::string sensor = str(t.sensor_id());
  if (const auto* sb = t.signed_bytes(); sb != nullptr) {
    // A carrier (or a single reading): remember it for the readings that refer to it.
    auto same = [&](const Carrier& c) {
      return c.offset == offset && c.partition == part && c.sensor == sensor && c.topic == topic;
    };
    carriers_.erase(std::remove_if(carriers_.begin(), carriers_.end(), same), carriers_.end());
    if (carriers_.size() >= kKept) carriers_.erase(carriers_.begin());
    carriers_.push_back(Carrier{topic, sensor, part, offset, {sb->begin(), sb->end()}});
    return carriers_.back().bytes;
  }
  if (t.signed_bytes_at() != wire::SignedBytesAt::Carrier) {
    *why = t.privacy_rules() != nullptr || t.reading() != nullptr ? Missing::kWithheld
                                                                  : Missing::kAbsent;
    return {};
  }
  for (auto it = carriers_.rbegin(); it != carriers_.rend(); ++it) {
    if (it->offset != offset || it->partition != part || it->sensor != sensor || it->topic != topic)
      continue;
    const auto* want = t.signed_bytes_sha256();
    const crypto::Sha256Digest got = crypto::sha256(std::span<const uint8_t>(it->bytes));
    if (want == nullptr || want->size() != got.size() ||
        std::memcmp(want->data(), got.data(), got.size()) != 0) {
      *why = Missing::kMismatch;
      return {};
    }
    return it->bytes;
  }
  *why = Missing::kNoCarrier;
  return {};
}

const char* SignedBytesResolver::name(Missing m) {
  switch (m) {
    case Missing::kNone:
      return "none";
    case Missing::kWithheld:
      return "withheld";
    case Missing::kNoCarrier:
      return "no_carrier";
    case Missing::kMismatch:
      return "carrier_mismatch";
    case Missing::kAbsent:
      return "absent";
  }
  return "unknown";
}

}  // namespace assay::engine
