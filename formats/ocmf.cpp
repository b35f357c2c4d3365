#include "formats/ocmf.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "formats/encoding.hpp"
#include "formats/json_text.hpp"
#include "formats/time_util.hpp"

namespace assay::formats {
namespace {

using json = nlohmann::json;

// ---- field tables ----------------------------------------------------------------------

// Known keys of each object kind; the index is the bit in a frame's `seen` mask.
constexpr std::string_view kTopKeys[] = {"FV", "GI", "GS", "GV", "PG", "MV", "MM",
                                         "MS", "MF", "IS", "IL", "IF", "IT", "ID",
                                         "TT", "CF", "LC", "CT", "CI", "RD"};
enum TopKey { FV, GI, GS, GV, PG, MV, MM, MS, MF, IS, IL, IF, IT, ID, TT, CF, LC, CT, CI, RD };
constexpr std::string_view kReadingKeys[] = {"TM", "TX", "RV", "RI", "RU", "RT", "CL", "EF", "ST"};
enum ReadingKey { TM, TX, RV, RI, RU, RT, CL, EF, ST };
constexpr std::string_view kLcKeys[] = {"LN", "LI", "LR", "LU"};
enum LcKey { LN, LI, LR, LU };
constexpr std::string_view kSigKeys[] = {"SA", "SE", "SM", "SD"};
enum SigKey { SA, SE, SM, SD };

template <size_t N>
int key_index(const std::string_view (&keys)[N], std::string_view k) {
  for (size_t i = 0; i < N; ++i)
    if (keys[i] == k) return static_cast<int>(i);
  return -1;
}

// Roles of the frames on the SAX stack.
enum class Role : uint8_t { kTop, kSig, kReading, kLc, kRdArray, kIfArray, kCapture };

struct Frame {
  Role role;
  bool is_object;
  uint32_t seen = 0;       // known keys seen (objects with a key table)
  uint32_t key_begin = 0;  // start of this frame's keys (capture_keys_ or unknown_keys_)
  uint32_t count = 0;      // members/elements written (capture frames: for separators)
};

// What the next value in an object belongs to.
struct Pending {
  int known = -1;                // index into the frame's key table, or -1
  std::string_view unknown_key;  // set when known == -1 and a key was read
};

// A number as the parser saw it.
struct NumberValue {
  double value;
  std::string_view text;  // as written (arena)
};

bool ends_transaction(OcmfTx tx) {
  return tx == OcmfTx::kEnd || tx == OcmfTx::kEndLocal || tx == OcmfTx::kEndRemote ||
         tx == OcmfTx::kEndAbort || tx == OcmfTx::kEndPowerFailure;
}

// Strict decimal in a string field (lenient mode): optional spaces around
// `-?digits[.digits][(e|E)[+-]digits]`.
bool parse_decimal_string(std::string_view s, double* value, std::string_view* trimmed) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const size_t int_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == int_start) return false;
  if (i < s.size() && s[i] == '.') {
    const size_t f = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == f) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t e = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == e) return false;
  }
  if (i != s.size()) return false;
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *value = v;
  *trimmed = s;
  return true;
}

// ---- the SAX handler ---------------------------------------------------------------------

class Sax {
 public:
  Sax(OcmfRecord& r, const OcmfParseOptions& o, bool signature_section)
      : r_(r), o_(o), a_(r.arena), signature_(signature_section) {}

  OcmfError error() const { return err_; }
  // Known keys seen in each reading (for the inheritance rules).
  const std::vector<uint32_t>& reading_seen() const { return reading_seen_; }
  uint32_t top_seen() const { return top_seen_; }

  // -- events --
  bool null() { return scalar_literal("null", ValueKind::kNull); }
  bool boolean(bool v) {
    bool_ = v;
    return scalar_literal(v ? "true" : "false", ValueKind::kBool);
  }
  bool number_integer(json::number_integer_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return number(static_cast<double>(v), {buf, static_cast<size_t>(r.ptr - buf)});
  }
  bool number_unsigned(json::number_unsigned_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return number(static_cast<double>(v), {buf, static_cast<size_t>(r.ptr - buf)});
  }
  bool number_float(json::number_float_t v, const json::string_t& raw) {
    if (!std::isfinite(v)) return fail(OcmfError::kNumberOutOfRange);
    return number(v, raw);
  }
  bool string(json::string_t& s) {
    if (s.size() > o_.max_string_bytes) return fail(OcmfError::kFieldTooLong);
    return scalar_string(s);
  }
  bool binary(json::binary_t&) { return fail(OcmfError::kPayloadJson); }
  bool key(json::string_t& k) { return on_key(k); }
  bool start_object(std::size_t) { return open(true); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(false); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    if (err_ == OcmfError::kNone)
      err_ = ex.id == 406 ? OcmfError::kNumberOutOfRange
                          : (signature_ ? OcmfError::kSignatureJson : OcmfError::kPayloadJson);
    return false;
  }

 private:
  enum class ValueKind : uint8_t { kString, kNumber, kBool, kNull };

  bool fail(OcmfError e) {
    if (err_ == OcmfError::kNone) err_ = e;
    return false;
  }
  Frame* top() { return depth_ == 0 ? nullptr : &stack_[depth_ - 1]; }

  bool store(std::string_view s, std::string_view* out) {
    if (!a_.append(s, out)) return fail(OcmfError::kInternalLimit);
    return true;
  }

  // Appends raw text to the capture being built.
  bool emit(std::string_view s) {
    std::string_view ignored;
    return store(s, &ignored);
  }
  // The separator before an array element of a capture (object members get theirs with the
  // key).
  bool capture_separator(Frame& f) {
    if (!f.is_object && f.count++ > 0) return emit(",");
    return true;
  }
  bool emit_json_string(std::string_view s) {
    const size_t need = json_escaped_size(s);
    const std::span<char> out = a_.allocate(need);
    if (out.size() != need) return fail(OcmfError::kInternalLimit);
    json_escape_into(s, out.data());
    return true;
  }

  // Starts capturing an unknown field's value (objects/arrays/scalars alike).
  bool begin_extra(OcmfSection section, std::string_view key) {
    if (r_.extras.size() >= o_.max_extras) return fail(OcmfError::kTooManyFields);
    OcmfExtra e;
    e.section = section;
    e.reading =
        section == OcmfSection::kReading ? static_cast<uint32_t>(r_.readings.size() - 1) : 0;
    e.key = key;
    r_.extras.push_back(e);
    capture_start_ = a_.cursor();
    return true;
  }
  void end_extra() {
    r_.extras.back().value = {capture_start_, static_cast<size_t>(a_.cursor() - capture_start_)};
  }

  OcmfSection section_of(Role role) const {
    switch (role) {
      case Role::kReading:
        return OcmfSection::kReading;
      case Role::kLc:
        return OcmfSection::kLossCompensation;
      case Role::kSig:
        return OcmfSection::kSignature;
      default:
        return OcmfSection::kPayload;
    }
  }

  bool open(bool is_object) {
    if (depth_ >= o_.max_depth || depth_ >= kMaxFrames) return fail(OcmfError::kTooDeep);
    Frame* parent = top();
    Role role;
    if (parent == nullptr) {
      if (!is_object) return fail(OcmfError::kNotObject);
      role = signature_ ? Role::kSig : Role::kTop;
    } else if (parent->role == Role::kCapture) {
      if (!capture_separator(*parent) || !emit(is_object ? "{" : "[")) return false;
      role = Role::kCapture;
    } else if (parent->role == Role::kRdArray) {
      if (!is_object) return fail(OcmfError::kReadingNotObject);
      if (r_.readings.size() >= o_.max_readings) return fail(OcmfError::kTooManyReadings);
      r_.readings.emplace_back();
      reading_seen_.push_back(0);
      role = Role::kReading;
    } else if (parent->role == Role::kIfArray) {
      return fail(OcmfError::kWrongType);
    } else {
      // A member value of Top/Sig/Reading/Lc.
      const Pending p = pending_;
      pending_ = {};
      if (p.known < 0) {
        if (!begin_extra(section_of(parent->role), p.unknown_key) || !emit(is_object ? "{" : "["))
          return false;
        capture_root_depth_ = depth_ + 1;
        role = Role::kCapture;
      } else if (parent->role == Role::kTop && p.known == RD && !is_object) {
        role = Role::kRdArray;
      } else if (parent->role == Role::kTop && p.known == IF && !is_object) {
        role = Role::kIfArray;
      } else if (parent->role == Role::kTop && p.known == LC && is_object) {
        r_.has_loss_compensation = true;
        role = Role::kLc;
      } else {
        return fail(OcmfError::kWrongType);
      }
    }
    Frame& f = stack_[depth_++];
    f = Frame{role, is_object};
    f.key_begin =
        static_cast<uint32_t>(role == Role::kCapture ? capture_keys_.size() : unknown_keys_.size());
    return true;
  }

  bool close() {
    Frame& f = stack_[depth_ - 1];
    if (f.role == Role::kCapture) {
      if (!emit(f.is_object ? "}" : "]")) return false;
      if (depth_ == capture_root_depth_) {
        end_extra();
        capture_root_depth_ = 0;
      }
    } else if (f.role == Role::kReading) {
      reading_seen_.back() = f.seen;
    } else if (f.role == Role::kTop) {
      top_seen_ = f.seen;
    }
    if (f.role == Role::kCapture)
      capture_keys_.resize(f.key_begin);
    else
      unknown_keys_.resize(f.key_begin);
    --depth_;
    return true;
  }

  bool on_key(const std::string& k) {
    Frame* f = top();
    if (k.size() > o_.max_string_bytes) return fail(OcmfError::kFieldTooLong);
    if (f->role == Role::kCapture) {
      // Duplicate keys inside captured (unknown) objects are refused too.
      for (size_t i = f->key_begin; i < capture_keys_.size(); ++i)
        if (capture_keys_[i] == k) return fail(OcmfError::kDuplicateKey);
      if (capture_keys_.size() >= o_.max_extras * 4) return fail(OcmfError::kTooManyFields);
      capture_keys_.push_back(k);
      if (f->count++ > 0 && !emit(",")) return false;
      return emit_json_string(k) && emit(":");
    }
    int idx = -1;
    switch (f->role) {
      case Role::kTop:
        idx = key_index(kTopKeys, k);
        break;
      case Role::kSig:
        idx = key_index(kSigKeys, k);
        break;
      case Role::kReading:
        idx = key_index(kReadingKeys, k);
        break;
      case Role::kLc:
        idx = key_index(kLcKeys, k);
        break;
      default:
        break;
    }
    pending_ = {};
    if (idx >= 0) {
      if (f->seen & (1u << idx)) return fail(OcmfError::kDuplicateKey);
      f->seen |= 1u << idx;
      pending_.known = idx;
      return true;
    }
    for (size_t i = f->key_begin; i < unknown_keys_.size(); ++i)
      if (unknown_keys_[i] == k) return fail(OcmfError::kDuplicateKey);
    std::string_view stored;
    if (!store(k, &stored)) return false;
    unknown_keys_.push_back(stored);
    pending_.unknown_key = stored;
    return true;
  }

  // ---- scalars ----
  bool scalar_literal(std::string_view lit, ValueKind kind) {
    Frame* f = top();
    if (f == nullptr) return fail(OcmfError::kNotObject);
    if (f->role == Role::kCapture) return capture_separator(*f) && emit(lit);
    if (f->role == Role::kRdArray) return fail(OcmfError::kReadingNotObject);
    if (f->role == Role::kIfArray) return fail(OcmfError::kWrongType);
    const Pending p = pending_;
    pending_ = {};
    if (p.known < 0) {
      if (!begin_extra(section_of(f->role), p.unknown_key) || !emit(lit)) return false;
      end_extra();
      return true;
    }
    if (kind == ValueKind::kBool && f->role == Role::kTop && p.known == IS) {
      r_.has_identification_status = true;
      r_.identification_status = bool_;
      return true;
    }
    return fail(OcmfError::kWrongType);
  }

  bool number(double v, std::string_view raw) {
    if (raw.size() > kMaxNumberText) return fail(OcmfError::kNumberOutOfRange);
    Frame* f = top();
    if (f == nullptr) return fail(OcmfError::kNotObject);
    if (f->role == Role::kCapture) return capture_separator(*f) && emit(raw);
    if (f->role == Role::kRdArray) return fail(OcmfError::kReadingNotObject);
    if (f->role == Role::kIfArray) return fail(OcmfError::kWrongType);
    const Pending p = pending_;
    pending_ = {};
    std::string_view text;
    if (!store(raw, &text)) return false;
    if (p.known < 0) {
      if (!begin_extra(section_of(f->role), p.unknown_key)) return false;
      r_.extras.back().value = text;
      return true;
    }
    if (is_number_field(f->role, p.known)) return assign_number(f->role, p.known, {v, text});
    if (is_string_field(f->role, p.known)) {
      if (!o_.lenient_types) return fail(OcmfError::kWrongType);
      r_.deviations |= kStringAsNumber;
      return assign_string(f->role, p.known, text);
    }
    return fail(OcmfError::kWrongType);
  }

  bool scalar_string(const std::string& s) {
    Frame* f = top();
    if (f == nullptr) return fail(OcmfError::kNotObject);
    if (f->role == Role::kCapture) return capture_separator(*f) && emit_json_string(s);
    if (f->role == Role::kRdArray) return fail(OcmfError::kReadingNotObject);
    std::string_view text;
    if (!store(s, &text)) return false;
    if (f->role == Role::kIfArray) {
      if (r_.identification_flags.size() >= kMaxIdentificationFlags)
        return fail(OcmfError::kTooManyFields);
      r_.identification_flags.push_back(text);
      return true;
    }
    const Pending p = pending_;
    pending_ = {};
    if (p.known < 0) {
      if (!begin_extra(section_of(f->role), p.unknown_key)) return false;
      r_.extras.back().value = text;
      return true;
    }
    if (is_string_field(f->role, p.known)) return assign_string(f->role, p.known, text);
    if (is_number_field(f->role, p.known)) {
      if (!o_.lenient_types) return fail(OcmfError::kWrongType);
      NumberValue n;
      if (!parse_decimal_string(text, &n.value, &n.text)) return fail(OcmfError::kValueInvalid);
      r_.deviations |= kNumberAsString;
      return assign_number(f->role, p.known, n);
    }
    return fail(OcmfError::kWrongType);
  }

  static bool is_number_field(Role role, int k) {
    return (role == Role::kReading && (k == RV || k == CL)) ||
           (role == Role::kLc && (k == LI || k == LR));
  }
  static bool is_string_field(Role role, int k) {
    switch (role) {
      case Role::kTop:
        return k != IS && k != IF && k != LC && k != RD;
      case Role::kReading:
        return k != RV && k != CL;
      case Role::kLc:
        return k == LN || k == LU;
      case Role::kSig:
        return true;
      default:
        return false;
    }
  }

  bool assign_number(Role role, int k, const NumberValue& n) {
    if (role == Role::kReading) {
      OcmfReading& rd = r_.readings.back();
      if (k == RV) {
        rd.has_value = true;
        rd.value = n.value;
        rd.value_text = n.text;
      } else {
        rd.has_cumulated_loss = true;
        rd.cumulated_loss = n.value;
        rd.cumulated_loss_text = n.text;
      }
      return true;
    }
    if (k == LI) {
      r_.loss_id = n.text;
    } else {
      r_.loss_resistance = n.value;
      r_.loss_resistance_text = n.text;
    }
    return true;
  }

  bool assign_string(Role role, int k, std::string_view s) {
    switch (role) {
      case Role::kTop:
        return assign_top(k, s);
      case Role::kReading:
        return assign_reading(k, s);
      case Role::kLc:
        (k == LN ? r_.loss_name : r_.loss_unit) = s;
        return true;
      case Role::kSig:
        switch (k) {
          case SA:
            sa_ = s;
            sa_seen_ = true;
            break;
          case SE:
            se_ = s;
            se_seen_ = true;
            break;
          case SM:
            sm_ = s;
            sm_seen_ = true;
            break;
          default:
            r_.signature_text = s;
            break;
        }
        return true;
      default:
        return fail(OcmfError::kWrongType);
    }
  }

  bool assign_top(int k, std::string_view s) {
    switch (k) {
      case FV:
        r_.format_version = s;
        break;
      case GI:
        r_.gateway_id = s;
        break;
      case GS:
        r_.gateway_serial = s;
        break;
      case GV:
        r_.gateway_version = s;
        break;
      case PG:
        pg_ = s;
        break;
      case MV:
        r_.meter_vendor = s;
        break;
      case MM:
        r_.meter_model = s;
        break;
      case MS:
        r_.meter_serial = s;
        break;
      case MF:
        r_.meter_firmware = s;
        break;
      case IL:
        r_.identification_level = s;
        break;
      case IT:
        r_.identification_type = s;
        break;
      case ID:
        r_.identification_data = s;
        break;
      case TT:
        r_.tariff_text = s;
        break;
      case CF:
        r_.charge_controller_firmware = s;
        break;
      case CT:
        r_.charge_point_id_type = s;
        break;
      case CI:
        r_.charge_point_id = s;
        break;
      default:
        return fail(OcmfError::kWrongType);
    }
    return true;
  }

  bool assign_reading(int k, std::string_view s) {
    OcmfReading& rd = r_.readings.back();
    switch (k) {
      case TM: {
        const OcmfError e = parse_ocmf_time(s, &rd);
        if (e != OcmfError::kNone) return fail(e);
        rd.time_text = s;
        return true;
      }
      case TX:
        if (s.size() != 1 || std::string_view("BCXELRAPST").find(s[0]) == std::string_view::npos)
          return fail(OcmfError::kTxInvalid);
        rd.tx = static_cast<OcmfTx>(s[0]);
        return true;
      case RI:
        rd.obis = s;
        return true;
      case RU:
        rd.unit = s;
        return true;
      case RT:
        rd.current_type = s;
        return true;
      case EF:
        for (char c : s)
          if (c != 'E' && c != 't') return fail(OcmfError::kErrorFlagsInvalid);
        rd.error_flags = s;
        return true;
      case ST:
        if (s.size() != 1 || std::string_view("NGTDRMXIOSEF").find(s[0]) == std::string_view::npos)
          return fail(OcmfError::kStatusInvalid);
        rd.status = s[0];
        return true;
      default:
        return fail(OcmfError::kWrongType);
    }
  }

  // TM: `YYYY-MM-DDThh:mm:ss,fff+hhmm X` (the specification's exact layout).
  static OcmfError parse_ocmf_time(std::string_view s, OcmfReading* rd) {
    if (s.size() != 30) return OcmfError::kTimeInvalid;
    auto digits = [&](size_t pos, size_t n, int* out) {
      int v = 0;
      for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
      }
      *out = v;
      return true;
    };
    int y, mo, d, h, mi, sec, ms, tzh, tzm;
    if (!digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
        !digits(8, 2, &d) || s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' ||
        !digits(14, 2, &mi) || s[16] != ':' || !digits(17, 2, &sec) || s[19] != ',' ||
        !digits(20, 3, &ms) || (s[23] != '+' && s[23] != '-') || !digits(24, 2, &tzh) ||
        !digits(26, 2, &tzm) || s[28] != ' ')
      return OcmfError::kTimeInvalid;
    const int tz = (tzh * 60 + tzm) * (s[23] == '-' ? -1 : 1);
    if (tzh > 14 || tzm > 59) return OcmfError::kTimeInvalid;
    int64_t ns = 0;
    if (!civil_to_unix_ns(y, mo, d, h, mi, sec, ms * 1'000'000, tz, &ns))
      return OcmfError::kTimeInvalid;
    const char st = s[29];
    if (st != 'U' && st != 'I' && st != 'S' && st != 'R') return OcmfError::kTimeStatusInvalid;
    rd->time_ns = ns;
    rd->tz_offset_min = static_cast<int16_t>(tz);
    rd->time_status = static_cast<OcmfTimeStatus>(st);
    return OcmfError::kNone;
  }

  static constexpr size_t kMaxFrames = 32;
  static constexpr size_t kMaxNumberText = 64;
  static constexpr size_t kMaxIdentificationFlags = 16;

  OcmfRecord& r_;
  const OcmfParseOptions& o_;
  TextArena& a_;
  const bool signature_;
  OcmfError err_ = OcmfError::kNone;
  Frame stack_[kMaxFrames];
  size_t depth_ = 0;
  Pending pending_;
  bool bool_ = false;
  const char* capture_start_ = nullptr;
  size_t capture_root_depth_ = 0;
  std::vector<std::string_view> unknown_keys_;
  std::vector<std::string> capture_keys_;
  std::vector<uint32_t> reading_seen_;
  uint32_t top_seen_ = 0;

 public:
  // Signature-section values (read by parse_ocmf after the parse).
  std::string_view pg_, sa_, se_, sm_;
  bool sa_seen_ = false, se_seen_ = false, sm_seen_ = false;
};

// Runs nlohmann's SAX parser over one section.
OcmfError run_sax(std::span<const uint8_t> bytes, Sax& sax, OcmfError json_error) {
  try {
    const char* b = reinterpret_cast<const char*>(bytes.data());
    const bool ok = json::sax_parse(b, b + bytes.size(), &sax, json::input_format_t::json,
                                    /*strict=*/true, /*ignore_comments=*/false);
    if (sax.error() != OcmfError::kNone) return sax.error();
    return ok ? OcmfError::kNone : json_error;
  } catch (const std::bad_alloc&) {
    return OcmfError::kInternalLimit;
  } catch (...) {
    return sax.error() != OcmfError::kNone ? sax.error() : json_error;
  }
}

OcmfError parse_version(OcmfRecord& r) {
  if (r.format_version.empty()) {  // FV is optional (0..1): 1.0
    r.version_minor = 0;
    return OcmfError::kNone;
  }
  const std::string_view v = r.format_version;
  if (v.size() < 3 || v[0] != '1' || v[1] != '.') return OcmfError::kUnsupportedVersion;
  unsigned minor = 0;
  const auto res = std::from_chars(v.data() + 2, v.data() + v.size(), minor);
  if (res.ec != std::errc() || res.ptr != v.data() + v.size() || minor > 255 ||
      (v.size() > 3 && v[2] == '0'))
    return OcmfError::kUnsupportedVersion;
  r.version_minor = static_cast<uint8_t>(minor);
  return OcmfError::kNone;
}

OcmfError parse_pagination(std::string_view pg, OcmfRecord& r) {
  if (pg.size() < 2 || pg.size() > 20 || (pg[0] != 'T' && pg[0] != 'F'))
    return OcmfError::kPaginationInvalid;
  if (pg.size() > 2 && pg[1] == '0') return OcmfError::kPaginationInvalid;  // leading zero
  uint64_t n = 0;
  const auto res = std::from_chars(pg.data() + 1, pg.data() + pg.size(), n);
  if (res.ec != std::errc() || res.ptr != pg.data() + pg.size())
    return OcmfError::kPaginationInvalid;
  r.pagination_context = pg[0];
  r.pagination = n;
  return OcmfError::kNone;
}

// Fills inherited reading fields and checks the mandatory ones.
OcmfError finish_readings(OcmfRecord& r, const std::vector<uint32_t>& seen) {
  if (r.readings.empty()) return OcmfError::kNoReadings;
  for (size_t i = 0; i < r.readings.size(); ++i) {
    OcmfReading& rd = r.readings[i];
    const uint32_t s = seen[i];
    if (i == 0) {
      if (!(s & (1u << TM))) return OcmfError::kTimeMissing;
      if (!(s & (1u << ST))) return OcmfError::kStatusMissing;
    } else {
      const OcmfReading& prev = r.readings[i - 1];
      if (!(s & (1u << TM))) {
        rd.time_ns = prev.time_ns;
        rd.tz_offset_min = prev.tz_offset_min;
        rd.time_status = prev.time_status;
        rd.time_text = prev.time_text;
        rd.inherited |= kInheritTime;
      }
      if (!(s & (1u << TX))) {
        rd.tx = prev.tx;
        rd.inherited |= kInheritTx;
      }
      if (!(s & (1u << RI))) {
        rd.obis = prev.obis;
        rd.inherited |= kInheritObis;
      }
      if (!(s & (1u << RU))) {
        rd.unit = prev.unit;
        rd.inherited |= kInheritUnit;
      }
      if (!(s & (1u << RT))) {
        rd.current_type = prev.current_type;
        rd.inherited |= kInheritCurrentType;
      }
      if (!(s & (1u << EF))) {
        rd.error_flags = prev.error_flags;
        rd.inherited |= kInheritErrorFlags;
      }
      if (!(s & (1u << ST))) {
        rd.status = prev.status;
        rd.inherited |= kInheritStatus;
      }
    }
    if (rd.has_value && rd.unit.empty()) return OcmfError::kUnitMissing;
  }
  return OcmfError::kNone;
}

struct AlgName {
  std::string_view name;
  OcmfAlgorithm alg;
};
constexpr AlgName kAlgorithms[] = {
    {"ECDSA-secp192k1-SHA256", OcmfAlgorithm::kSecp192k1Sha256},
    {"ECDSA-secp256k1-SHA256", OcmfAlgorithm::kSecp256k1Sha256},
    {"ECDSA-secp192r1-SHA256", OcmfAlgorithm::kSecp192r1Sha256},
    {"ECDSA-secp256r1-SHA256", OcmfAlgorithm::kSecp256r1Sha256},
    {"ECDSA-brainpool256r1-SHA256", OcmfAlgorithm::kBrainpoolP256r1Sha256},
    {"ECDSA-brainpoolP256r1-SHA256", OcmfAlgorithm::kBrainpoolP256r1Sha256},
    {"ECDSA-secp384r1-SHA256", OcmfAlgorithm::kSecp384r1Sha256},
    {"ECDSA-brainpool384r1-SHA256", OcmfAlgorithm::kBrainpoolP384r1Sha256},
    {"ECDSA-brainpoolP384r1-SHA256", OcmfAlgorithm::kBrainpoolP384r1Sha256},
};

OcmfError finish_signature(OcmfRecord& r, const Sax& sig, const OcmfParseOptions& o) {
  if (sig.sa_seen_) {
    r.algorithm = OcmfAlgorithm::kUnknown;
    for (const AlgName& a : kAlgorithms)
      if (a.name == sig.sa_) r.algorithm = a.alg;
    if (r.algorithm == OcmfAlgorithm::kUnknown) return OcmfError::kUnknownAlgorithm;
    r.algorithm_explicit = true;
  } else {
    r.algorithm = OcmfAlgorithm::kSecp256r1Sha256;
  }
  if (ocmf_algorithm_is_legacy(r.algorithm) && !o.allow_legacy_curves)
    return OcmfError::kLegacyAlgorithm;
  if (sig.se_seen_ && sig.se_ != "hex" && sig.se_ != "base64") return OcmfError::kUnknownEncoding;
  r.base64 = sig.se_seen_ && sig.se_ == "base64";
  if (sig.sm_seen_ && sig.sm_ != "application/x-der") return OcmfError::kUnknownMimeType;
  if (r.signature_text.empty()) return OcmfError::kSignatureMissing;
  const ptrdiff_t n =
      r.base64 ? decode_base64(r.signature_text, r.der_) : decode_hex(r.signature_text, r.der_);
  if (n <= 0) return OcmfError::kSignatureEncoding;
  r.der_len_ = static_cast<size_t>(n);
  const size_t field = ocmf_algorithm_field_bytes(r.algorithm);
  if (!ecdsa_der_to_raw(r.signature_der(), field, r.raw_)) return OcmfError::kSignatureDer;
  r.raw_len_ = 2 * field;
  return OcmfError::kNone;
}

void clear_record(OcmfRecord& r) {
  TextArena arena = std::move(r.arena);
  std::vector<OcmfReading> readings = std::move(r.readings);
  std::vector<OcmfExtra> extras = std::move(r.extras);
  std::vector<std::string_view> flags = std::move(r.identification_flags);
  readings.clear();
  extras.clear();
  flags.clear();
  r = OcmfRecord{};
  r.arena = std::move(arena);
  r.readings = std::move(readings);
  r.extras = std::move(extras);
  r.identification_flags = std::move(flags);
}

}  // namespace

std::string_view ocmf_error_name(OcmfError e) {
  switch (e) {
    case OcmfError::kNone:
      return "ok";
    case OcmfError::kTooLarge:
      return "ocmf.too_large";
    case OcmfError::kNotOcmf:
      return "ocmf.not_ocmf";
    case OcmfError::kMissingSection:
      return "ocmf.missing_section";
    case OcmfError::kExtraSection:
      return "ocmf.extra_section";
    case OcmfError::kPayloadJson:
      return "ocmf.payload_invalid_json";
    case OcmfError::kSignatureJson:
      return "ocmf.signature_invalid_json";
    case OcmfError::kNotObject:
      return "ocmf.section_not_object";
    case OcmfError::kDuplicateKey:
      return "ocmf.duplicate_key";
    case OcmfError::kWrongType:
      return "ocmf.wrong_type";
    case OcmfError::kNumberOutOfRange:
      return "ocmf.number_out_of_range";
    case OcmfError::kTooDeep:
      return "ocmf.too_deep";
    case OcmfError::kTooManyReadings:
      return "ocmf.too_many_readings";
    case OcmfError::kTooManyFields:
      return "ocmf.too_many_fields";
    case OcmfError::kFieldTooLong:
      return "ocmf.field_too_long";
    case OcmfError::kUnsupportedVersion:
      return "ocmf.unsupported_version";
    case OcmfError::kPaginationInvalid:
      return "ocmf.pagination_invalid";
    case OcmfError::kMissingIdentity:
      return "ocmf.missing_identity";
    case OcmfError::kNoReadings:
      return "ocmf.no_readings";
    case OcmfError::kReadingNotObject:
      return "ocmf.reading_not_object";
    case OcmfError::kTimeMissing:
      return "ocmf.time_missing";
    case OcmfError::kTimeInvalid:
      return "ocmf.time_invalid";
    case OcmfError::kTimeStatusInvalid:
      return "ocmf.time_status_invalid";
    case OcmfError::kTxInvalid:
      return "ocmf.tx_invalid";
    case OcmfError::kStatusMissing:
      return "ocmf.status_missing";
    case OcmfError::kStatusInvalid:
      return "ocmf.status_invalid";
    case OcmfError::kUnitMissing:
      return "ocmf.unit_missing";
    case OcmfError::kErrorFlagsInvalid:
      return "ocmf.error_flags_invalid";
    case OcmfError::kValueInvalid:
      return "ocmf.value_invalid";
    case OcmfError::kSignatureMissing:
      return "ocmf.signature_missing";
    case OcmfError::kUnknownAlgorithm:
      return "ocmf.unknown_algorithm";
    case OcmfError::kLegacyAlgorithm:
      return "ocmf.legacy_algorithm";
    case OcmfError::kUnknownEncoding:
      return "ocmf.unknown_encoding";
    case OcmfError::kUnknownMimeType:
      return "ocmf.unknown_mime_type";
    case OcmfError::kSignatureEncoding:
      return "ocmf.signature_encoding_invalid";
    case OcmfError::kSignatureDer:
      return "ocmf.signature_der_invalid";
    case OcmfError::kInternalLimit:
      return "ocmf.internal_limit";
  }
  return "ocmf.unknown";
}

std::string_view ocmf_algorithm_name(OcmfAlgorithm a) {
  switch (a) {
    case OcmfAlgorithm::kSecp192k1Sha256:
      return "ECDSA-secp192k1-SHA256";
    case OcmfAlgorithm::kSecp256k1Sha256:
      return "ECDSA-secp256k1-SHA256";
    case OcmfAlgorithm::kSecp192r1Sha256:
      return "ECDSA-secp192r1-SHA256";
    case OcmfAlgorithm::kSecp256r1Sha256:
      return "ECDSA-secp256r1-SHA256";
    case OcmfAlgorithm::kBrainpoolP256r1Sha256:
      return "ECDSA-brainpool256r1-SHA256";
    case OcmfAlgorithm::kSecp384r1Sha256:
      return "ECDSA-secp384r1-SHA256";
    case OcmfAlgorithm::kBrainpoolP384r1Sha256:
      return "ECDSA-brainpool384r1-SHA256";
    case OcmfAlgorithm::kUnknown:
      break;
  }
  return "";
}

size_t ocmf_algorithm_field_bytes(OcmfAlgorithm a) {
  switch (a) {
    case OcmfAlgorithm::kSecp192k1Sha256:
    case OcmfAlgorithm::kSecp192r1Sha256:
      return 24;
    case OcmfAlgorithm::kSecp256k1Sha256:
    case OcmfAlgorithm::kSecp256r1Sha256:
    case OcmfAlgorithm::kBrainpoolP256r1Sha256:
      return 32;
    case OcmfAlgorithm::kSecp384r1Sha256:
    case OcmfAlgorithm::kBrainpoolP384r1Sha256:
      return 48;
    case OcmfAlgorithm::kUnknown:
      break;
  }
  return 0;
}

bool ocmf_algorithm_is_legacy(OcmfAlgorithm a) {
  return a == OcmfAlgorithm::kSecp192k1Sha256 || a == OcmfAlgorithm::kSecp192r1Sha256;
}

std::string_view ocmf_algorithm_curve(OcmfAlgorithm a) {
  switch (a) {
    case OcmfAlgorithm::kSecp192k1Sha256:
      return "secp192k1";
    case OcmfAlgorithm::kSecp256k1Sha256:
      return "secp256k1";
    case OcmfAlgorithm::kSecp192r1Sha256:
      return "prime192v1";
    case OcmfAlgorithm::kSecp256r1Sha256:
      return "prime256v1";
    case OcmfAlgorithm::kBrainpoolP256r1Sha256:
      return "brainpoolP256r1";
    case OcmfAlgorithm::kSecp384r1Sha256:
      return "secp384r1";
    case OcmfAlgorithm::kBrainpoolP384r1Sha256:
      return "brainpoolP384r1";
    case OcmfAlgorithm::kUnknown:
      break;
  }
  return "";
}

bool ocmf_tx_ends(OcmfTx tx) {
  return ends_transaction(tx);
}

OcmfError parse_ocmf(std::span<const uint8_t> input, const OcmfParseOptions& options,
                     OcmfRecord& out) {
  clear_record(out);
  if (input.size() > options.max_record_bytes) return OcmfError::kTooLarge;
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  if (text.substr(0, 4) != "OCMF") return OcmfError::kNotOcmf;
  if (text.size() < 5 || text[4] != '|') return OcmfError::kMissingSection;
  const size_t p1 = 4;
  const size_t p2 = text.find('|', p1 + 1);
  if (p2 == std::string_view::npos) return OcmfError::kMissingSection;
  if (text.find('|', p2 + 1) != std::string_view::npos) return OcmfError::kExtraSection;
  out.payload = input.subspan(p1 + 1, p2 - p1 - 1);
  out.signature_section = input.subspan(p2 + 1);

  // Every stored string is at most as long as its JSON text; keys of unknown fields are stored
  // twice (for duplicate detection and in the value) and numbers once more as text.
  out.arena.reset(2 * input.size() + 64);

  Sax payload(out, options, /*signature_section=*/false);
  OcmfError e = run_sax(out.payload, payload, OcmfError::kPayloadJson);
  if (e != OcmfError::kNone) return e;
  if ((e = parse_version(out)) != OcmfError::kNone) return e;
  if (!(payload.top_seen() & (1u << PG))) return OcmfError::kPaginationInvalid;
  if ((e = parse_pagination(payload.pg_, out)) != OcmfError::kNone) return e;
  if (out.gateway_serial.empty() && out.meter_serial.empty() && out.charge_point_id.empty())
    return OcmfError::kMissingIdentity;
  if ((e = finish_readings(out, payload.reading_seen())) != OcmfError::kNone) return e;

  Sax sig(out, options, /*signature_section=*/true);
  e = run_sax(out.signature_section, sig, OcmfError::kSignatureJson);
  if (e != OcmfError::kNone) return e;
  return finish_signature(out, sig, options);
}

std::string_view ocmf_signer_id(const OcmfRecord& r, std::string& buf) {
  const std::string_view gs = r.gateway_serial;
  const std::string_view ms = r.meter_serial;
  if (!ms.empty() && (gs.empty() || gs == ms)) {
    buf.assign(ms);
  } else if (ms.empty() && !gs.empty()) {
    buf.assign(gs);
  } else if (!ms.empty()) {
    buf.assign(gs);
    buf.push_back('/');
    buf.append(ms);
  } else {
    buf.assign(r.charge_point_id);
  }
  return buf;
}

std::string_view ocmf_unit_to_ucum(std::string_view unit) {
  if (unit == "kWh") return "kW.h";
  if (unit == "Wh") return "W.h";
  return unit;
}

}  // namespace assay::formats
