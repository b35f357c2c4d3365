#include "formats/senml.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/cbor_reader.hpp"
#include "formats/encoding.hpp"

namespace assay::formats {
namespace {

using Raw = SenmlPack::Raw;
using Number = SenmlPack::Number;
using json = nlohmann::json;

// Internal field numbering (bit in Raw::present).
enum Field : int { BVER, BN, BT, BU, BV, BS, N, U, V, VS, VB, S, T, UT, VD, kFieldCount };

constexpr uint32_t bit(Field f) {
  return 1u << f;
}

// CBOR labels (RFC 8428 §6): -1..-6 base fields, 0..8 regular fields.
int field_of_cbor_label(int64_t label) {
  switch (label) {
    case -1:
      return BVER;
    case -2:
      return BN;
    case -3:
      return BT;
    case -4:
      return BU;
    case -5:
      return BV;
    case -6:
      return BS;
    case 0:
      return N;
    case 1:
      return U;
    case 2:
      return V;
    case 3:
      return VS;
    case 4:
      return VB;
    case 5:
      return S;
    case 6:
      return T;
    case 7:
      return UT;
    case 8:
      return VD;
    default:
      return -1;
  }
}

int field_of_json_key(std::string_view k) {
  static constexpr std::string_view kNames[kFieldCount] = {
      "bver", "bn", "bt", "bu", "bv", "bs", "n", "u", "v", "vs", "vb", "s", "t", "ut", "vd"};
  for (int i = 0; i < kFieldCount; ++i)
    if (kNames[i] == k) return i;
  return -1;
}

bool is_string_field(int f) {
  return f == BN || f == BU || f == N || f == U || f == VS;
}
bool is_number_field(int f) {
  return f == BT || f == BV || f == BS || f == V || f == S || f == T || f == UT;
}

std::string_view* string_slot(Raw& r, int f) {
  switch (f) {
    case BN:
      return &r.bn;
    case BU:
      return &r.bu;
    case N:
      return &r.n;
    case U:
      return &r.u;
    default:
      return &r.vs;
  }
}
Number* number_slot(Raw& r, int f) {
  switch (f) {
    case BT:
      return &r.bt;
    case BV:
      return &r.bv;
    case BS:
      return &r.bs;
    case V:
      return &r.v;
    case S:
      return &r.s;
    case T:
      return &r.t;
    default:
      return &r.ut;
  }
}

Number from_uint(uint64_t u) {
  Number n;
  if (u <= static_cast<uint64_t>(INT64_MAX)) {
    n.is_int = true;
    n.i = static_cast<int64_t>(u);
  } else {
    n.d = static_cast<double>(u);
  }
  return n;
}
// CBOR negative integer -1 - u.
Number from_negint(uint64_t u) {
  Number n;
  if (u <= static_cast<uint64_t>(INT64_MAX)) {
    n.is_int = true;
    n.i = -1 - static_cast<int64_t>(u);
  } else {
    n.d = -1.0 - static_cast<double>(u);
  }
  return n;
}
double as_double(const Number& n) {
  return n.is_int ? static_cast<double>(n.i) : n.d;
}

// Seconds (integer or float) to ns; false if not representable.
bool to_ns(const Number& n, int64_t* out) {
  constexpr int64_t kMaxSec = INT64_MAX / 1'000'000'000 - 1;
  if (n.is_int) {
    if (n.i > kMaxSec || n.i < -kMaxSec) return false;
    *out = n.i * 1'000'000'000;
    return true;
  }
  if (!std::isfinite(n.d) || std::fabs(n.d) > static_cast<double>(kMaxSec)) return false;
  const double sec = std::floor(n.d);
  const int64_t frac_ns = std::llround((n.d - sec) * 1e9);  // 0 .. 1e9 inclusive
  *out = static_cast<int64_t>(sec) * 1'000'000'000 + frac_ns;
  return true;
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != ':' && c != '.' && c != '/' && c != '_') return false;
  return true;
}

// ---- resolution (RFC 8428 §4.6), shared by both representations ---------------------------

SenmlError resolve(const SenmlParseOptions& o, SenmlPack& p) {
  // Pre-pass: sizes of concatenated names, so the names arena never grows.
  size_t names_bytes = 0;
  {
    std::string_view bn;
    for (const Raw& r : p.raw) {
      if (r.present & bit(BN)) bn = r.bn;
      const size_t len = bn.size() + r.n.size();
      if (len > o.max_name_bytes) return SenmlError::kFieldTooLong;
      if (!bn.empty() && !r.n.empty()) names_bytes += len;
    }
  }
  p.names.reset(names_bytes);
  p.records.clear();
  p.records.reserve(p.raw.size());

  std::string_view bn, bu;
  Number bt, bv, bs;
  bool has_bt = false, has_bv = false, has_bs = false;
  uint64_t version = 10;
  for (size_t i = 0; i < p.raw.size(); ++i) {
    const Raw& r = p.raw[i];
    if (r.present & bit(BVER)) {
      if (r.bver == 0 || r.bver > 10) return SenmlError::kUnsupportedVersion;
      if (r.bver != version) {
        if (i > 0) return SenmlError::kVersionMismatch;  // all records share one version
        version = r.bver;
      }
    }
    if (r.present & bit(BN)) bn = r.bn;
    if (r.present & bit(BU)) bu = r.bu;
    if (r.present & bit(BT)) {
      bt = r.bt;
      has_bt = true;
    }
    if (r.present & bit(BV)) {
      bv = r.bv;
      has_bv = true;
    }
    if (r.present & bit(BS)) {
      bs = r.bs;
      has_bs = true;
    }

    SenmlRecord rec;
    // Name.
    if (bn.empty()) {
      rec.name = r.n;
    } else if (r.n.empty()) {
      rec.name = bn;
    } else {
      const std::span<char> dst = p.names.allocate(bn.size() + r.n.size());
      if (dst.size() != bn.size() + r.n.size()) return SenmlError::kTooLarge;  // not reached
      std::memcpy(dst.data(), bn.data(), bn.size());
      std::memcpy(dst.data() + bn.size(), r.n.data(), r.n.size());
      rec.name = {dst.data(), dst.size()};
    }
    if (!valid_name(rec.name)) return SenmlError::kInvalidName;
    rec.base_name_size = static_cast<uint32_t>(bn.size());
    // Unit.
    rec.unit = (r.present & bit(U)) ? r.u : bu;
    // Value.
    const int values = ((r.present & bit(V)) ? 1 : 0) + ((r.present & bit(VS)) ? 1 : 0) +
                       ((r.present & bit(VB)) ? 1 : 0) + ((r.present & bit(VD)) ? 1 : 0);
    if (values > 1) return SenmlError::kMultipleValues;
    if (values == 0 && !(r.present & bit(S))) return SenmlError::kNoValue;
    if ((r.present & bit(S)) || has_bs) {
      rec.has_sum = true;
      rec.sum = (has_bs ? as_double(bs) : 0.0) + ((r.present & bit(S)) ? as_double(r.s) : 0.0);
      if (!std::isfinite(rec.sum)) return SenmlError::kValueNotFinite;
    }
    if (r.present & bit(V)) {
      rec.kind = SenmlValueKind::kNumber;
      rec.value = (has_bv ? as_double(bv) : 0.0) + as_double(r.v);
      if (!std::isfinite(rec.value)) return SenmlError::kValueNotFinite;
    } else if (r.present & bit(VB)) {
      rec.kind = SenmlValueKind::kBool;
      rec.bool_value = r.vb;
      rec.value = r.vb ? 1.0 : 0.0;
    } else if (r.present & (bit(VS) | bit(VD))) {
      if (!o.accept_non_numeric) return SenmlError::kNonNumericValue;
      rec.value = std::numeric_limits<double>::quiet_NaN();
      if (r.present & bit(VS)) {
        rec.kind = SenmlValueKind::kString;
        rec.string_value = r.vs;
      } else {
        rec.kind = SenmlValueKind::kData;
        rec.data_value = r.vd;
      }
    } else {
      rec.kind = SenmlValueKind::kSumOnly;
      rec.value = rec.sum;
    }
    // Time: bt + t, absolute only.
    int64_t base_ns = 0, t_ns = 0;
    if ((has_bt && !to_ns(bt, &base_ns)) || ((r.present & bit(T)) && !to_ns(r.t, &t_ns)))
      return SenmlError::kTimeOutOfRange;
    if (__builtin_add_overflow(base_ns, t_ns, &rec.time_ns)) return SenmlError::kTimeOutOfRange;
    if (rec.time_ns < (int64_t{1} << 28) * 1'000'000'000) return SenmlError::kRelativeTime;
    if (r.present & bit(UT)) {
      rec.has_update_time = true;
      rec.update_time = as_double(r.ut);
    }
    p.records.push_back(rec);
  }
  p.version = static_cast<uint32_t>(version);
  return SenmlError::kNone;
}

// ---- CBOR ----------------------------------------------------------------------------------

SenmlError read(CborReader& r, CborItem& it) {
  switch (r.next(it)) {
    case CborStatus::kOk:
      if (it.type == CborType::kIndefinite) return SenmlError::kIndefiniteLength;
      if (it.type == CborType::kBreak) return SenmlError::kMalformed;
      return SenmlError::kNone;
    case CborStatus::kEnd:
    case CborStatus::kTruncated:
      return SenmlError::kTruncated;
    case CborStatus::kMalformed:
      break;
  }
  return SenmlError::kMalformed;
}

SenmlError skip(CborReader& r, const CborItem& first, int max_depth) {
  bool indefinite = false, too_deep = false;
  switch (r.skip(first, max_depth, &indefinite, &too_deep)) {
    case CborStatus::kOk:
      return SenmlError::kNone;
    case CborStatus::kEnd:
    case CborStatus::kTruncated:
      return SenmlError::kTruncated;
    case CborStatus::kMalformed:
      break;
  }
  if (indefinite) return SenmlError::kIndefiniteLength;
  if (too_deep) return SenmlError::kTooDeep;
  return SenmlError::kMalformed;
}

SenmlError read_cbor_value(CborReader& r, int f, const SenmlParseOptions& o, Raw& raw) {
  CborItem v;
  if (SenmlError e = read(r, v); e != SenmlError::kNone) return e;
  if (is_string_field(f)) {
    if (v.type != CborType::kText) return SenmlError::kWrongType;
    if (v.bytes.size() > o.max_string_bytes) return SenmlError::kFieldTooLong;
    if (!valid_utf8(v.text())) return SenmlError::kInvalidUtf8;
    *string_slot(raw, f) = v.text();
  } else if (is_number_field(f)) {
    Number n;
    if (v.type == CborType::kUint) {
      n = from_uint(v.u);
    } else if (v.type == CborType::kNegint) {
      n = from_negint(v.u);
    } else if (v.type == CborType::kFloat) {
      if (!std::isfinite(v.f)) return SenmlError::kValueNotFinite;
      n.d = v.f;
    } else {
      return SenmlError::kWrongType;  // includes decimal fractions (tag 4)
    }
    *number_slot(raw, f) = n;
  } else if (f == VB) {
    if (v.type != CborType::kBool) return SenmlError::kWrongType;
    raw.vb = v.b;
  } else if (f == VD) {
    if (v.type != CborType::kBytes) return SenmlError::kWrongType;
    if (v.bytes.size() > o.max_string_bytes) return SenmlError::kFieldTooLong;
    raw.vd = v.bytes;
  } else {  // BVER: unsigned integer only (RFC 8428 §6)
    if (v.type != CborType::kUint) return SenmlError::kWrongType;
    raw.bver = v.u;
  }
  raw.present |= 1u << f;
  return SenmlError::kNone;
}

// ---- JSON ----------------------------------------------------------------------------------

class JsonSax {
 public:
  JsonSax(SenmlPack& p, const SenmlParseOptions& o) : p_(p), o_(o) {}
  SenmlError error() const { return err_; }

  bool null() { return scalar(Kind::kNull); }
  bool boolean(bool b) {
    bool_ = b;
    return scalar(Kind::kBool);
  }
  bool number_integer(json::number_integer_t v) {
    num_ = Number{true, v, 0};
    return scalar(Kind::kNumber);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    num_ = from_uint(v);
    unsigned_ = true;
    uint_ = v;
    const bool ok = scalar(Kind::kNumber);
    unsigned_ = false;
    return ok;
  }
  bool number_float(json::number_float_t v, const json::string_t&) {
    if (!std::isfinite(v)) return fail(SenmlError::kValueNotFinite);
    num_ = Number{false, 0, v};
    return scalar(Kind::kNumber);
  }
  bool string(json::string_t& s) {
    if (s.size() > o_.max_string_bytes) return fail(SenmlError::kFieldTooLong);
    str_ = &s;
    return scalar(Kind::kString);
  }
  bool binary(json::binary_t&) { return fail(SenmlError::kInvalidJson); }
  bool start_object(std::size_t) {
    if (depth_ == 1) {  // a record
      if (p_.raw.size() >= o_.max_records) return fail(SenmlError::kTooManyRecords);
      p_.raw.emplace_back();
      fields_ = 0;
      unknown_.clear();
      ++depth_;
      return true;
    }
    return open_nested();
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 0) {
      ++depth_;
      top_array_ = true;
      return true;
    }
    return open_nested();
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    if (depth_ > 2) return true;  // inside an ignored unknown field's value
    if (++fields_ > o_.max_fields) return fail(SenmlError::kTooManyFields);
    field_ = field_of_json_key(k);
    if (field_ >= 0) {
      if (p_.raw.back().present & (1u << field_)) return fail(SenmlError::kDuplicateField);
      return true;
    }
    if (!k.empty() && k.back() == '_') return fail(SenmlError::kUnknownMandatoryField);
    for (const std::string& u : unknown_)
      if (u == k) return fail(SenmlError::kDuplicateField);
    unknown_.push_back(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return fail(SenmlError::kInvalidJson);
  }
  bool saw_array() const { return top_array_; }

 private:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString };

  bool fail(SenmlError e) {
    if (err_ == SenmlError::kNone) err_ = e;
    return false;
  }
  bool open_nested() {
    if (depth_ == 0) return fail(SenmlError::kNotArray);
    if (depth_ == 1) return fail(SenmlError::kRecordNotMap);
    if (field_ >= 0) return fail(SenmlError::kWrongType);  // a known field holds an object/array
    if (depth_ >= static_cast<size_t>(o_.max_depth) + 1) return fail(SenmlError::kTooDeep);
    ++depth_;
    return true;
  }

  bool scalar(Kind kind) {
    if (depth_ == 0) return fail(SenmlError::kNotArray);
    if (depth_ == 1) return fail(SenmlError::kRecordNotMap);
    if (depth_ > 2 || field_ < 0) return true;  // an ignored unknown field
    Raw& raw = p_.raw.back();
    const int f = field_;
    if (is_string_field(f)) {
      if (kind != Kind::kString) return fail(SenmlError::kWrongType);
      if (!p_.strings.append(*str_, string_slot(raw, f))) return fail(SenmlError::kTooLarge);
    } else if (is_number_field(f)) {
      if (kind != Kind::kNumber) return fail(SenmlError::kWrongType);
      *number_slot(raw, f) = num_;
    } else if (f == VB) {
      if (kind != Kind::kBool) return fail(SenmlError::kWrongType);
      raw.vb = bool_;
    } else if (f == VD) {
      if (kind != Kind::kString) return fail(SenmlError::kWrongType);
      const std::span<char> dst = p_.strings.allocate(str_->size());
      if (dst.size() != str_->size()) return fail(SenmlError::kTooLarge);
      const ptrdiff_t n =
          decode_base64url(*str_, {reinterpret_cast<uint8_t*>(dst.data()), dst.size()});
      if (n < 0) return fail(SenmlError::kDataInvalid);
      raw.vd = {reinterpret_cast<const uint8_t*>(dst.data()), static_cast<size_t>(n)};
    } else {  // BVER: a non-negative integer
      if (kind != Kind::kNumber || !unsigned_) return fail(SenmlError::kWrongType);
      raw.bver = uint_;
    }
    raw.present |= 1u << f;
    return true;
  }

  SenmlPack& p_;
  const SenmlParseOptions& o_;
  SenmlError err_ = SenmlError::kNone;
  size_t depth_ = 0;
  bool top_array_ = false;
  size_t fields_ = 0;
  int field_ = -1;
  std::vector<std::string> unknown_;
  // The scalar being delivered.
  bool bool_ = false;
  Number num_;
  bool unsigned_ = false;
  uint64_t uint_ = 0;
  const std::string* str_ = nullptr;
};

}  // namespace

std::string_view senml_error_name(SenmlError e) {
  switch (e) {
    case SenmlError::kNone:
      return "ok";
    case SenmlError::kTooLarge:
      return "senml.too_large";
    case SenmlError::kTruncated:
      return "senml.truncated";
    case SenmlError::kMalformed:
      return "senml.cbor_malformed";
    case SenmlError::kInvalidJson:
      return "senml.invalid_json";
    case SenmlError::kIndefiniteLength:
      return "senml.indefinite_length";
    case SenmlError::kTooDeep:
      return "senml.too_deep";
    case SenmlError::kTrailingBytes:
      return "senml.trailing_bytes";
    case SenmlError::kNotArray:
      return "senml.not_array";
    case SenmlError::kEmptyPack:
      return "senml.empty_pack";
    case SenmlError::kTooManyRecords:
      return "senml.too_many_records";
    case SenmlError::kRecordNotMap:
      return "senml.record_not_map";
    case SenmlError::kLabelInvalid:
      return "senml.label_invalid";
    case SenmlError::kDuplicateField:
      return "senml.duplicate_field";
    case SenmlError::kTooManyFields:
      return "senml.too_many_fields";
    case SenmlError::kWrongType:
      return "senml.wrong_type";
    case SenmlError::kInvalidUtf8:
      return "senml.invalid_utf8";
    case SenmlError::kFieldTooLong:
      return "senml.field_too_long";
    case SenmlError::kUnknownMandatoryField:
      return "senml.unknown_mandatory_field";
    case SenmlError::kUnsupportedVersion:
      return "senml.unsupported_version";
    case SenmlError::kVersionMismatch:
      return "senml.version_mismatch";
    case SenmlError::kInvalidName:
      return "senml.invalid_name";
    case SenmlError::kNoValue:
      return "senml.no_value";
    case SenmlError::kMultipleValues:
      return "senml.multiple_values";
    case SenmlError::kNonNumericValue:
      return "senml.non_numeric_value";
    case SenmlError::kValueNotFinite:
      return "senml.value_not_finite";
    case SenmlError::kRelativeTime:
      return "senml.relative_time";
    case SenmlError::kTimeOutOfRange:
      return "senml.time_out_of_range";
    case SenmlError::kDataInvalid:
      return "senml.data_invalid";
  }
  return "senml.unknown";
}

SenmlError parse_senml_cbor(std::span<const uint8_t> input, const SenmlParseOptions& o,
                            SenmlPack& p) {
  p.raw.clear();
  p.records.clear();
  p.version = 10;
  if (input.size() > o.max_pack_bytes) return SenmlError::kTooLarge;
  CborReader r(input);
  CborItem head;
  if (SenmlError e = read(r, head); e != SenmlError::kNone) return e;
  if (head.type != CborType::kArray) return SenmlError::kNotArray;
  if (head.u == 0) return SenmlError::kEmptyPack;
  if (head.u > o.max_records) return SenmlError::kTooManyRecords;
  for (uint64_t i = 0; i < head.u; ++i) {
    CborItem rec;
    if (SenmlError e = read(r, rec); e != SenmlError::kNone) return e;
    if (rec.type != CborType::kMap) return SenmlError::kRecordNotMap;
    if (rec.u > o.max_fields || rec.u > 64) return SenmlError::kTooManyFields;
    Raw& raw = p.raw.emplace_back();
    // Unknown labels seen in this record (for duplicate detection): ints and texts.
    int64_t unknown_ints[64];
    std::string_view unknown_texts[64];
    size_t n_ints = 0, n_texts = 0;
    for (uint64_t k = 0; k < rec.u; ++k) {
      CborItem key;
      if (SenmlError e = read(r, key); e != SenmlError::kNone) return e;
      int f = -1;
      if (key.type == CborType::kUint || key.type == CborType::kNegint) {
        if (key.u > static_cast<uint64_t>(INT64_MAX)) return SenmlError::kLabelInvalid;
        const int64_t label = key.type == CborType::kUint ? static_cast<int64_t>(key.u)
                                                          : -1 - static_cast<int64_t>(key.u);
        f = field_of_cbor_label(label);
        if (f < 0) {
          for (size_t j = 0; j < n_ints; ++j)
            if (unknown_ints[j] == label) return SenmlError::kDuplicateField;
          unknown_ints[n_ints++] = label;  // at most rec.u <= 64 entries
        }
      } else if (key.type == CborType::kText) {
        if (!valid_utf8(key.text())) return SenmlError::kInvalidUtf8;
        if (!key.bytes.empty() && key.text().back() == '_')
          return SenmlError::kUnknownMandatoryField;
        for (size_t j = 0; j < n_texts; ++j)
          if (unknown_texts[j] == key.text()) return SenmlError::kDuplicateField;
        unknown_texts[n_texts++] = key.text();
      } else {
        return SenmlError::kLabelInvalid;
      }
      if (f >= 0) {
        if (raw.present & (1u << f)) return SenmlError::kDuplicateField;
        if (SenmlError e = read_cbor_value(r, f, o, raw); e != SenmlError::kNone) return e;
      } else {
        CborItem v;
        if (SenmlError e = read(r, v); e != SenmlError::kNone) return e;
        if (SenmlError e = skip(r, v, o.max_depth); e != SenmlError::kNone) return e;
      }
    }
  }
  if (!r.at_end()) return SenmlError::kTrailingBytes;
  return resolve(o, p);
}

SenmlError parse_senml_json(std::span<const uint8_t> input, const SenmlParseOptions& o,
                            SenmlPack& p) {
  p.raw.clear();
  p.records.clear();
  p.version = 10;
  if (input.size() > o.max_pack_bytes) return SenmlError::kTooLarge;
  // Decoded JSON strings are never longer than their text; data values get their own copy.
  p.strings.reset(2 * input.size());
  JsonSax sax(p, o);
  try {
    const char* b = reinterpret_cast<const char*>(input.data());
    const bool ok = json::sax_parse(b, b + input.size(), &sax, json::input_format_t::json,
                                    /*strict=*/true, /*ignore_comments=*/false);
    if (sax.error() != SenmlError::kNone) return sax.error();
    if (!ok) return SenmlError::kInvalidJson;
  } catch (...) {
    return sax.error() != SenmlError::kNone ? sax.error() : SenmlError::kInvalidJson;
  }
  if (!sax.saw_array()) return SenmlError::kNotArray;
  if (p.raw.empty()) return SenmlError::kEmptyPack;
  return resolve(o, p);
}

bool senml_payload_is_json(const CoseMessage& m, bool& is_json) {
  if (!m.has_content_type) {
    const auto& p = m.payload;
    size_t i = 0;
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) ++i;
    is_json = i < p.size() && p[i] == '[';
    return true;
  }
  if (!m.content_type.empty()) {
    if (m.content_type == "application/senml+cbor") {
      is_json = false;
      return true;
    }
    if (m.content_type == "application/senml+json") {
      is_json = true;
      return true;
    }
    return false;
  }
  if (m.content_format == kSenmlCborContentFormat) {
    is_json = false;
    return true;
  }
  if (m.content_format == kSenmlJsonContentFormat) {
    is_json = true;
    return true;
  }
  return false;
}

}  // namespace assay::formats
