#include "sim/instrument_records.hpp"

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

namespace assay::sim {

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kMaxOffsetSec = int64_t{1} << 20;  // float offsets below this resolve exactly

// ---- OCMF ----

void append_tm(std::string& o, int64_t ns, char status) {
  int64_t sec = ns / kNsPerSec;
  int64_t rem = ns % kNsPerSec;
  if (rem < 0) {
    rem += kNsPerSec;
    --sec;
  }
  const auto t = static_cast<time_t>(sec);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d,%03d+0000 %c", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rem / 1'000'000), status);
  o += buf;
}

void append_register(std::string& o, int64_t e4) {
  char buf[40];
  const bool neg = e4 < 0;
  const uint64_t a = neg ? 0 - static_cast<uint64_t>(e4) : static_cast<uint64_t>(e4);
  std::snprintf(buf, sizeof buf, "%s%llu.%04llu", neg ? "-" : "",
                static_cast<unsigned long long>(a / 10000), static_cast<unsigned long long>(a % 10000));
  o += buf;
}

// Strings the simulator writes need no escaping beyond these (ids are ASCII); kept strict anyway.
void append_json_string(std::string& o, std::string_view s) {
  o += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      o += buf;
    } else {
      o += c;
    }
  }
  o += '"';
}

// ---- CBOR (libcbor) ----

struct ItemFree {
  void operator()(cbor_item_t* i) const {
    if (i != nullptr) cbor_decref(&i);
  }
};
using Item = std::unique_ptr<cbor_item_t, ItemFree>;

cbor_item_t* build_int(int64_t v) {
  if (v >= 0) {
    const auto u = static_cast<uint64_t>(v);
    if (u <= 0xFF) return cbor_build_uint8(static_cast<uint8_t>(u));
    if (u <= 0xFFFF) return cbor_build_uint16(static_cast<uint16_t>(u));
    if (u <= 0xFFFFFFFFu) return cbor_build_uint32(static_cast<uint32_t>(u));
    return cbor_build_uint64(u);
  }
  const uint64_t m = static_cast<uint64_t>(-(v + 1));  // encoded as -1 - m
  if (m <= 0xFF) return cbor_build_negint8(static_cast<uint8_t>(m));
  if (m <= 0xFFFF) return cbor_build_negint16(static_cast<uint16_t>(m));
  if (m <= 0xFFFFFFFFu) return cbor_build_negint32(static_cast<uint32_t>(m));
  return cbor_build_negint64(m);
}

cbor_item_t* build_bytes(std::span<const uint8_t> b) {
  return cbor_build_bytestring(b.data(), b.size());
}

cbor_item_t* build_text(std::string_view s) { return cbor_build_stringn(s.data(), s.size()); }

// Adds key -> value to a map, taking both references. False if either is null or libcbor fails.
bool map_put(cbor_item_t* map, cbor_item_t* key, cbor_item_t* value) {
  Item k(key), v(value);
  if (!k || !v) return false;
  return cbor_map_add(map, cbor_pair{k.get(), v.get()});  // the map takes its own references
}

bool array_push(cbor_item_t* array, cbor_item_t* item) {
  Item i(item);
  return i && cbor_array_push(array, i.get());
}

std::vector<uint8_t> serialize(const cbor_item_t* item) {
  std::vector<uint8_t> out;
  if (item == nullptr) return out;
  unsigned char* buf = nullptr;
  size_t cap = 0;
  const size_t n = cbor_serialize_alloc(item, &buf, &cap);
  if (n > 0 && buf != nullptr) out.assign(buf, buf + n);
  std::free(buf);
  return out;
}

}  // namespace

std::string ocmf_payload(const OcmfPayloadSpec& spec) {
  std::string o;
  o.reserve(256 + spec.entries.size() * 120);
  o += R"({"FV":"1.0","GI":"ASSAY SIM GATEWAY","GS":)";
  append_json_string(o, spec.meter_serial);
  o += R"(,"GV":"1.0.0","PG":"T)";
  o += std::to_string(spec.pagination);
  o += R"(","MV":"Assay","MM":"SIM-EM1","MS":)";
  append_json_string(o, spec.meter_serial);
  o += R"(,"MF":)";
  append_json_string(o, spec.meter_firmware);
  o += R"(,"IS":false,"IF":["RFID_NONE","OCPP_NONE"],"IT":"NONE","CT":"EVSEID","CI":)";
  append_json_string(o, spec.charge_point_id);
  o += R"(,"RD":[)";
  for (size_t i = 0; i < spec.entries.size(); ++i) {
    const OcmfEntry& e = spec.entries[i];
    if (i != 0) o += ',';
    o += R"({"TM":")";
    append_tm(o, e.time_ns, e.time_status);
    o += R"(","TX":")";
    o += e.tx;
    o += R"(","RV":)";
    append_register(o, e.register_e4);
    o += R"(,"RI":"1-b:1.8.0","RU":"kWh","RT":"AC","EF":"","ST":"G"})";
  }
  o += "]}";
  return o;
}

std::string ocmf_record(std::string_view payload, std::span<const uint8_t> der) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string o;
  o.reserve(payload.size() + 64 + 2 * der.size());
  o += "OCMF|";
  o += payload;
  o += R"(|{"SA":"ECDSA-secp256r1-SHA256","SD":")";
  for (uint8_t b : der) {
    o += kHex[b >> 4];
    o += kHex[b & 15];
  }
  o += "\"}";
  return o;
}

bool ecdsa_p1363_to_der(std::span<const uint8_t> rs, std::vector<uint8_t>& der) {
  der.clear();
  if (rs.empty() || rs.size() % 2 != 0) return false;
  const size_t half = rs.size() / 2;
  BIGNUM* r = BN_bin2bn(rs.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(rs.data() + half, static_cast<int>(half), nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  // sig owns r and s now.
  unsigned char* out = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &out);
  const bool ok = n > 0 && out != nullptr;
  if (ok) der.assign(out, out + n);
  OPENSSL_free(out);
  ECDSA_SIG_free(sig);
  return ok;
}

std::vector<uint8_t> senml_pack_cbor(std::string_view base_name, std::string_view name,
                                     std::string_view unit, std::span<const SenmlEntry> entries) {
  Item pack(cbor_new_definite_array(entries.size()));
  if (!pack) return {};
  int64_t bt = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const int64_t ns = entries[i].time_ns;
    int64_t sec = ns / kNsPerSec;
    if (ns % kNsPerSec < 0) --sec;
    const bool new_base = i == 0 || sec - bt >= kMaxOffsetSec || sec < bt;
    Item rec(cbor_new_definite_map(new_base ? (i == 0 ? 6 : 5) : 4));
    if (!rec) return {};
    if (i == 0 && !map_put(rec.get(), build_int(-2), build_text(base_name))) return {};
    if (new_base) {
      bt = sec;
      if (!map_put(rec.get(), build_int(-3), build_int(bt))) return {};
    }
    if (!map_put(rec.get(), build_int(0), build_text(name)) ||
        !map_put(rec.get(), build_int(1), build_text(unit)) ||
        !map_put(rec.get(), build_int(2), cbor_build_float8(entries[i].value)))
      return {};
    const int64_t off_ns = ns - bt * kNsPerSec;  // 0 <= off < 2^20 s
    cbor_item_t* t = off_ns % kNsPerSec == 0
                         ? build_int(off_ns / kNsPerSec)
                         : cbor_build_float8(static_cast<double>(off_ns) / 1e9);
    if (!map_put(rec.get(), build_int(6), t)) return {};
    if (!array_push(pack.get(), rec.release())) return {};
  }
  return serialize(pack.get());
}

std::vector<uint8_t> cose_protected_header(int alg) {
  Item map(cbor_new_definite_map(2));
  if (!map || !map_put(map.get(), build_int(1), build_int(alg)) ||
      !map_put(map.get(), build_int(3), build_int(112)))
    return {};
  return serialize(map.get());
}

std::vector<uint8_t> cose_to_be_signed(bool mac, std::span<const uint8_t> protected_header,
                                       std::span<const uint8_t> payload) {
  Item a(cbor_new_definite_array(4));
  if (!a || !array_push(a.get(), build_text(mac ? "MAC0" : "Signature1")) ||
      !array_push(a.get(), build_bytes(protected_header)) ||
      !array_push(a.get(), build_bytes({})) || !array_push(a.get(), build_bytes(payload)))
    return {};
  return serialize(a.get());
}

std::vector<uint8_t> cose_message(bool mac, std::span<const uint8_t> protected_header,
                                  std::string_view kid, std::span<const uint8_t> payload,
                                  std::span<const uint8_t> signature) {
  Item a(cbor_new_definite_array(4));
  Item unprotected(cbor_new_definite_map(1));
  if (!a || !unprotected ||
      !map_put(unprotected.get(), build_int(4),
               build_bytes({reinterpret_cast<const uint8_t*>(kid.data()), kid.size()})))
    return {};
  if (!array_push(a.get(), build_bytes(protected_header)) ||
      !array_push(a.get(), unprotected.release()) || !array_push(a.get(), build_bytes(payload)) ||
      !array_push(a.get(), build_bytes(signature)))
    return {};
  Item tagged(cbor_build_tag(mac ? 17 : 18, a.get()));
  return serialize(tagged.get());
}

}  // namespace assay::sim
