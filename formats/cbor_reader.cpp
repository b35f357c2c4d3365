#include "formats/cbor_reader.hpp"

#include <cbor.h>

namespace assay::formats {
namespace {

// libcbor callbacks fill the item passed as context.
CborItem& item(void* ctx) {
  return *static_cast<CborItem*>(ctx);
}
void on_uint8(void* c, uint8_t v) {
  item(c) = {CborType::kUint, v};
}
void on_uint16(void* c, uint16_t v) {
  item(c) = {CborType::kUint, v};
}
void on_uint32(void* c, uint32_t v) {
  item(c) = {CborType::kUint, v};
}
void on_uint64(void* c, uint64_t v) {
  item(c) = {CborType::kUint, v};
}
void on_neg8(void* c, uint8_t v) {
  item(c) = {CborType::kNegint, v};
}
void on_neg16(void* c, uint16_t v) {
  item(c) = {CborType::kNegint, v};
}
void on_neg32(void* c, uint32_t v) {
  item(c) = {CborType::kNegint, v};
}
void on_neg64(void* c, uint64_t v) {
  item(c) = {CborType::kNegint, v};
}
void on_bytes(void* c, cbor_data d, size_t n) {
  item(c) = {CborType::kBytes};
  item(c).bytes = {d, static_cast<size_t>(n)};
}
void on_text(void* c, cbor_data d, size_t n) {
  item(c) = {CborType::kText};
  item(c).bytes = {d, static_cast<size_t>(n)};
}
void on_indef(void* c) {
  item(c) = {CborType::kIndefinite};
}
void on_array(void* c, size_t n) {
  item(c) = {CborType::kArray, n};
}
void on_map(void* c, size_t n) {
  item(c) = {CborType::kMap, n};
}
void on_tag(void* c, uint64_t t) {
  item(c) = {CborType::kTag, t};
}
void on_float(void* c, float f) {
  item(c) = {CborType::kFloat};
  item(c).f = f;
}
void on_double(void* c, double f) {
  item(c) = {CborType::kFloat};
  item(c).f = f;
}
void on_undefined(void* c) {
  item(c) = {CborType::kUndefined};
}
void on_null(void* c) {
  item(c) = {CborType::kNull};
}
void on_bool(void* c, bool b) {
  item(c) = {CborType::kBool};
  item(c).b = b;
}
void on_break(void* c) {
  item(c) = {CborType::kBreak};
}

struct cbor_callbacks make_callbacks() {
  struct cbor_callbacks cb = cbor_empty_callbacks;
  cb.uint8 = on_uint8;
  cb.uint16 = on_uint16;
  cb.uint32 = on_uint32;
  cb.uint64 = on_uint64;
  cb.negint8 = on_neg8;
  cb.negint16 = on_neg16;
  cb.negint32 = on_neg32;
  cb.negint64 = on_neg64;
  cb.byte_string_start = on_indef;
  cb.byte_string = on_bytes;
  cb.string = on_text;
  cb.string_start = on_indef;
  cb.indef_array_start = on_indef;
  cb.array_start = on_array;
  cb.indef_map_start = on_indef;
  cb.map_start = on_map;
  cb.tag = on_tag;
  cb.float2 = on_float;
  cb.float4 = on_float;
  cb.float8 = on_double;
  cb.undefined = on_undefined;
  cb.null = on_null;
  cb.boolean = on_bool;
  cb.indef_break = on_break;
  return cb;
}

const struct cbor_callbacks kCallbacks = make_callbacks();

}  // namespace

CborStatus CborReader::next(CborItem& out) {
  if (pos_ >= in_.size()) return CborStatus::kEnd;
  const uint8_t* p = in_.data() + pos_;
  const size_t left = in_.size() - pos_;
  // One-byte heads of tags 6..20, which libcbor 0.8 refuses although RFC 8949 allows them.
  if (*p >= 0xC6 && *p <= 0xD4) {
    out = {CborType::kTag, static_cast<uint64_t>(*p - 0xC0)};
    pos_ += 1;
    return CborStatus::kOk;
  }
  out = {};
  const struct cbor_decoder_result r = cbor_stream_decode(p, left, &kCallbacks, &out);
  switch (r.status) {
    case CBOR_DECODER_FINISHED:
      if (r.read == 0 || r.read > left) return CborStatus::kMalformed;
      pos_ += r.read;
      return CborStatus::kOk;
    case CBOR_DECODER_NEDATA:
      return CborStatus::kTruncated;
    default:
      return CborStatus::kMalformed;
  }
}

CborStatus CborReader::skip(const CborItem& first, int max_depth, bool* indefinite,
                            bool* too_deep) {
  // remaining[d] = items still to read at nesting level d (level 0 = inside `first`).
  constexpr int kMaxLevels = 64;
  uint64_t remaining[kMaxLevels];
  int depth = 0;
  auto open = [&](const CborItem& it) -> bool {
    uint64_t n = 0;
    if (it.type == CborType::kArray)
      n = it.u;
    else if (it.type == CborType::kMap)
      n = it.u > UINT64_MAX / 2 ? UINT64_MAX : it.u * 2;
    else if (it.type == CborType::kTag)
      n = 1;
    else
      return true;  // scalar or string: nothing nested
    if (n == 0) return true;
    if (depth >= max_depth || depth >= kMaxLevels) {
      *too_deep = true;
      return false;
    }
    remaining[depth++] = n;
    return true;
  };
  if (first.type == CborType::kIndefinite || first.type == CborType::kBreak) {
    *indefinite = first.type == CborType::kIndefinite;
    return CborStatus::kMalformed;
  }
  if (!open(first)) return CborStatus::kMalformed;
  while (depth > 0) {
    CborItem it;
    const CborStatus s = next(it);
    if (s == CborStatus::kEnd) return CborStatus::kTruncated;
    if (s != CborStatus::kOk) return s;
    if (it.type == CborType::kIndefinite || it.type == CborType::kBreak) {
      *indefinite = it.type == CborType::kIndefinite;
      return CborStatus::kMalformed;
    }
    --remaining[depth - 1];
    const int before = depth;
    if (!open(it)) return CborStatus::kMalformed;
    if (depth > before) continue;  // a non-empty container: its elements come next
    // A scalar or an empty container: close every level it completed.
    while (depth > 0 && remaining[depth - 1] == 0) --depth;
  }
  return CborStatus::kOk;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace assay::formats
