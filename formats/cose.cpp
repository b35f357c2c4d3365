#include "formats/cose.hpp"

#include <cbor.h>

#include <cstring>

#include "formats/cbor_reader.hpp"

namespace assay::formats {
namespace {

constexpr int64_t kLabelAlg = 1;
constexpr int64_t kLabelCrit = 2;
constexpr int64_t kLabelContentType = 3;
constexpr int64_t kLabelKid = 4;

// Reads one head; maps reader outcomes to COSE reasons.
CoseError read(CborReader& r, CborItem& it) {
  switch (r.next(it)) {
    case CborStatus::kOk:
      if (it.type == CborType::kIndefinite) return CoseError::kIndefiniteLength;
      if (it.type == CborType::kBreak) return CoseError::kMalformed;
      return CoseError::kNone;
    case CborStatus::kEnd:
    case CborStatus::kTruncated:
      return CoseError::kTruncated;
    case CborStatus::kMalformed:
      break;
  }
  return CoseError::kMalformed;
}

CoseError skip_value(CborReader& r, const CborItem& first, int max_depth) {
  bool indefinite = false;
  bool too_deep = false;
  switch (r.skip(first, max_depth, &indefinite, &too_deep)) {
    case CborStatus::kOk:
      return CoseError::kNone;
    case CborStatus::kEnd:
    case CborStatus::kTruncated:
      return CoseError::kTruncated;
    case CborStatus::kMalformed:
      break;
  }
  if (indefinite) return CoseError::kIndefiniteLength;
  if (too_deep) return CoseError::kTooDeep;
  return CoseError::kMalformed;
}

// A header label: an integer or a text string.
struct Label {
  bool is_text = false;
  int64_t num = 0;
  std::span<const uint8_t> text;
  bool operator==(const Label& o) const {
    if (is_text != o.is_text) return false;
    if (!is_text) return num == o.num;
    return text.size() == o.text.size() &&
           (text.empty() || std::memcmp(text.data(), o.text.data(), text.size()) == 0);
  }
};

// What the two headers told us.
struct Headers {
  static constexpr size_t kMaxLabels = 64;
  Label seen[kMaxLabels];
  size_t count = 0;
  bool has_alg = false;
  bool alg_protected = false;
  bool alg_is_text = false;
  int64_t alg = 0;
  bool has_kid = false;
};

// Parses one header map (the protected bucket's decoded map, or the unprotected map whose
// head `map` was already read).
CoseError parse_header_map(CborReader& r, const CborItem& map, bool is_protected,
                           const CoseParseOptions& o, Headers& h, CoseMessage& m) {
  for (uint64_t i = 0; i < map.u; ++i) {
    CborItem key;
    if (CoseError e = read(r, key); e != CoseError::kNone) return e;
    Label label;
    if (key.type == CborType::kUint) {
      if (key.u > static_cast<uint64_t>(INT64_MAX)) return CoseError::kHeaderLabelInvalid;
      label.num = static_cast<int64_t>(key.u);
    } else if (key.type == CborType::kNegint) {
      if (key.u > static_cast<uint64_t>(INT64_MAX)) return CoseError::kHeaderLabelInvalid;
      label.num = -1 - static_cast<int64_t>(key.u);
    } else if (key.type == CborType::kText) {
      if (!valid_utf8(key.text())) return CoseError::kHeaderLabelInvalid;
      label.is_text = true;
      label.text = key.bytes;
    } else {
      return CoseError::kHeaderLabelInvalid;
    }
    if (h.count >= o.max_header_entries || h.count >= Headers::kMaxLabels)
      return CoseError::kTooManyHeaders;
    for (size_t k = 0; k < h.count; ++k)
      if (h.seen[k] == label) return CoseError::kDuplicateHeader;
    h.seen[h.count++] = label;

    CborItem v;
    if (CoseError e = read(r, v); e != CoseError::kNone) return e;
    if (label.is_text) {
      if (CoseError e = skip_value(r, v, o.max_header_depth); e != CoseError::kNone) return e;
      continue;
    }
    switch (label.num) {
      case kLabelAlg:
        h.has_alg = true;
        h.alg_protected = is_protected;
        if (v.type == CborType::kUint && v.u <= 127) {
          h.alg = static_cast<int64_t>(v.u);
        } else if (v.type == CborType::kNegint && v.u <= 127) {
          h.alg = -1 - static_cast<int64_t>(v.u);
        } else if (v.type == CborType::kUint || v.type == CborType::kNegint ||
                   v.type == CborType::kText) {
          h.alg_is_text = true;  // a valid but unsupported identifier
          if (v.type == CborType::kText && !valid_utf8(v.text())) return CoseError::kAlgInvalid;
        } else {
          return CoseError::kAlgInvalid;
        }
        break;
      case kLabelCrit:
        return CoseError::kCritUnsupported;
      case kLabelContentType:
        if (v.type == CborType::kUint) {
          m.content_format = v.u;
        } else if (v.type == CborType::kText && valid_utf8(v.text())) {
          m.content_type = v.text();
        } else {
          return CoseError::kContentTypeInvalid;
        }
        m.has_content_type = true;
        break;
      case kLabelKid:
        if (v.type != CborType::kBytes || v.bytes.empty() || v.bytes.size() > o.max_kid_bytes)
          return CoseError::kKidInvalid;
        h.has_kid = true;
        m.kid = v.bytes;
        m.kid_protected = is_protected;
        break;
      default:
        if (CoseError e = skip_value(r, v, o.max_header_depth); e != CoseError::kNone) return e;
    }
  }
  return CoseError::kNone;
}

size_t head_size(uint64_t n) {
  if (n < 24) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n <= 0xFFFFFFFFu) return 5;
  return 9;
}

std::string_view context_of(CoseKind k) {
  return k == CoseKind::kSign1 ? "Signature1" : "MAC0";
}

}  // namespace

std::string_view cose_error_name(CoseError e) {
  switch (e) {
    case CoseError::kNone:
      return "ok";
    case CoseError::kTooLarge:
      return "cose.too_large";
    case CoseError::kTruncated:
      return "cose.truncated";
    case CoseError::kMalformed:
      return "cose.cbor_malformed";
    case CoseError::kIndefiniteLength:
      return "cose.indefinite_length";
    case CoseError::kTooDeep:
      return "cose.too_deep";
    case CoseError::kTrailingBytes:
      return "cose.trailing_bytes";
    case CoseError::kUntagged:
      return "cose.untagged";
    case CoseError::kWrongTag:
      return "cose.wrong_tag";
    case CoseError::kNotArray:
      return "cose.not_array";
    case CoseError::kWrongArrayLength:
      return "cose.wrong_array_length";
    case CoseError::kProtectedNotBstr:
      return "cose.protected_not_bstr";
    case CoseError::kProtectedNotMap:
      return "cose.protected_not_map";
    case CoseError::kUnprotectedNotMap:
      return "cose.unprotected_not_map";
    case CoseError::kPayloadNotBstr:
      return "cose.payload_not_bstr";
    case CoseError::kDetachedPayload:
      return "cose.detached_payload";
    case CoseError::kSignatureNotBstr:
      return "cose.signature_not_bstr";
    case CoseError::kHeaderLabelInvalid:
      return "cose.header_label_invalid";
    case CoseError::kDuplicateHeader:
      return "cose.duplicate_header";
    case CoseError::kTooManyHeaders:
      return "cose.too_many_headers";
    case CoseError::kAlgMissing:
      return "cose.alg_missing";
    case CoseError::kAlgNotProtected:
      return "cose.alg_not_protected";
    case CoseError::kAlgInvalid:
      return "cose.alg_invalid";
    case CoseError::kUnsupportedAlg:
      return "cose.unsupported_alg";
    case CoseError::kAlgKindMismatch:
      return "cose.alg_kind_mismatch";
    case CoseError::kKidMissing:
      return "cose.kid_missing";
    case CoseError::kKidInvalid:
      return "cose.kid_invalid";
    case CoseError::kCritUnsupported:
      return "cose.crit_unsupported";
    case CoseError::kContentTypeInvalid:
      return "cose.content_type_invalid";
    case CoseError::kSignatureLength:
      return "cose.signature_length";
  }
  return "cose.unknown";
}

std::string_view cose_algorithm_name(CoseAlgorithm a) {
  switch (a) {
    case CoseAlgorithm::kES256:
      return "ES256";
    case CoseAlgorithm::kEdDSA:
      return "EdDSA";
    case CoseAlgorithm::kHmac256:
      return "HMAC 256/256";
  }
  return "";
}

CoseError parse_cose(std::span<const uint8_t> input, const CoseParseOptions& o, CoseMessage& m) {
  m = CoseMessage{};
  if (input.size() > o.max_message_bytes) return CoseError::kTooLarge;
  CborReader r(input);
  CborItem it;
  if (CoseError e = read(r, it); e != CoseError::kNone) return e;

  // Tag (required unless the caller fixes the kind of untagged messages).
  if (it.type == CborType::kTag) {
    if (it.u == static_cast<uint64_t>(CoseKind::kSign1) && o.accept_sign1) {
      m.kind = CoseKind::kSign1;
    } else if (it.u == static_cast<uint64_t>(CoseKind::kMac0) && o.accept_mac0) {
      m.kind = CoseKind::kMac0;
    } else {
      return CoseError::kWrongTag;
    }
    m.tagged = true;
    if (CoseError e = read(r, it); e != CoseError::kNone) return e;
    if (it.type == CborType::kTag) return CoseError::kWrongTag;  // one tag only
  } else {
    if (o.require_tag) return CoseError::kUntagged;
    m.kind = o.untagged_kind;
  }
  if (it.type != CborType::kArray) return CoseError::kNotArray;
  if (it.u != 4) return CoseError::kWrongArrayLength;

  // [0] protected: bstr holding exactly one definite map.
  CborItem prot;
  if (CoseError e = read(r, prot); e != CoseError::kNone) return e;
  if (prot.type != CborType::kBytes) return CoseError::kProtectedNotBstr;
  m.protected_header = prot.bytes;
  Headers h;
  if (!prot.bytes.empty()) {
    CborReader pr(prot.bytes);
    CborItem map;
    const CborStatus s = pr.next(map);
    if (s == CborStatus::kOk && map.type == CborType::kIndefinite)
      return CoseError::kIndefiniteLength;
    if (s != CborStatus::kOk || map.type != CborType::kMap) return CoseError::kProtectedNotMap;
    CoseError e = parse_header_map(pr, map, true, o, h, m);
    if (e == CoseError::kTruncated) return CoseError::kProtectedNotMap;
    if (e != CoseError::kNone) return e;
    if (!pr.at_end()) return CoseError::kProtectedNotMap;
  }

  // [1] unprotected map.
  CborItem unprot;
  if (CoseError e = read(r, unprot); e != CoseError::kNone) return e;
  if (unprot.type != CborType::kMap) return CoseError::kUnprotectedNotMap;
  if (CoseError e = parse_header_map(r, unprot, false, o, h, m); e != CoseError::kNone) return e;

  // [2] payload, [3] signature / tag.
  CborItem payload;
  if (CoseError e = read(r, payload); e != CoseError::kNone) return e;
  if (payload.type == CborType::kNull) return CoseError::kDetachedPayload;
  if (payload.type != CborType::kBytes) return CoseError::kPayloadNotBstr;
  m.payload = payload.bytes;
  CborItem sig;
  if (CoseError e = read(r, sig); e != CoseError::kNone) return e;
  if (sig.type != CborType::kBytes) return CoseError::kSignatureNotBstr;
  m.signature = sig.bytes;
  if (!r.at_end()) return CoseError::kTrailingBytes;

  // Header semantics.
  if (!h.has_alg) return CoseError::kAlgMissing;
  if (!h.alg_protected) return CoseError::kAlgNotProtected;
  if (h.alg_is_text) return CoseError::kUnsupportedAlg;
  size_t sig_len = 0;
  switch (h.alg) {
    case static_cast<int64_t>(CoseAlgorithm::kES256):
    case static_cast<int64_t>(CoseAlgorithm::kEdDSA):
      if (m.kind != CoseKind::kSign1) return CoseError::kAlgKindMismatch;
      sig_len = 64;
      break;
    case static_cast<int64_t>(CoseAlgorithm::kHmac256):
      if (m.kind != CoseKind::kMac0) return CoseError::kAlgKindMismatch;
      sig_len = 32;
      break;
    default:
      return CoseError::kUnsupportedAlg;
  }
  m.algorithm = static_cast<CoseAlgorithm>(h.alg);
  if (o.require_kid && !h.has_kid) return CoseError::kKidMissing;
  if (m.signature.size() != sig_len) return CoseError::kSignatureLength;
  return CoseError::kNone;
}

size_t cose_to_be_signed_size(const CoseMessage& m) {
  const std::string_view ctx = context_of(m.kind);
  return 1 + head_size(ctx.size()) + ctx.size() + head_size(m.protected_header.size()) +
         m.protected_header.size() + 1 + head_size(m.payload.size()) + m.payload.size();
}

size_t cose_build_to_be_signed(const CoseMessage& m, std::span<uint8_t> out) {
  const size_t need = cose_to_be_signed_size(m);
  if (out.size() < need) return 0;
  const std::string_view ctx = context_of(m.kind);
  uint8_t* p = out.data();
  size_t left = out.size();
  auto advance = [&](size_t n) {
    p += n;
    left -= n;
  };
  auto put = [&](const void* src, size_t n) {
    if (n) std::memcpy(p, src, n);
    advance(n);
  };
  advance(cbor_encode_array_start(4, p, left));
  advance(cbor_encode_string_start(ctx.size(), p, left));
  put(ctx.data(), ctx.size());
  advance(cbor_encode_bytestring_start(m.protected_header.size(), p, left));
  put(m.protected_header.data(), m.protected_header.size());
  advance(cbor_encode_bytestring_start(0, p, left));  // external_aad: empty
  advance(cbor_encode_bytestring_start(m.payload.size(), p, left));
  put(m.payload.data(), m.payload.size());
  return static_cast<size_t>(p - out.data());
}

}  // namespace assay::formats
