#include "registries/dcc.hpp"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlIO.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "crypto/ecdsa.hpp"
#include "engine/time.hpp"

namespace assay::registries {

/// The public key of a trust-list X.509 certificate: for xmlsec, and (an EC P-256 key) for
/// Assay's batched ECDSA verifier.
struct DccVerifyKey {
  xmlSecKeyPtr key = nullptr;
  std::optional<crypto::EcdsaPublicKey> p256;  ///< set iff the certificate's key is EC P-256
  DccVerifyKey() = default;
  DccVerifyKey(const DccVerifyKey&) = delete;
  DccVerifyKey& operator=(const DccVerifyKey&) = delete;
  ~DccVerifyKey() {
    if (key != nullptr) xmlSecKeyDestroy(key);
  }
};

namespace {

constexpr const char* kDccNs = "https://ptb.de/dcc";
constexpr const char* kSiNs = "https://ptb.de/si";
constexpr const char* kDsNs = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kXadesNs = "http://uri.etsi.org/01903/v1.3.2#";
constexpr const char* kXadesSignedProps = "http://uri.etsi.org/01903#SignedProperties";
constexpr std::string_view kEcdsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
constexpr int64_t kDayNs = 86'400'000'000'000;

// ---- process-wide set-up: libxml2 and xmlsec never touch the network or the file system ----

std::atomic<uint64_t> g_refused_io{0};

int refuse_match(const char*) {
  return 1;
}
void* refuse_open(const char*) {
  g_refused_io.fetch_add(1);
  return nullptr;
}
int refuse_read(void*, char*, int) {
  return -1;
}
int refuse_close(void*) {
  return 0;
}

xmlParserInputPtr refuse_entity_loader(const char*, const char*, xmlParserCtxtPtr) {
  g_refused_io.fetch_add(1);
  return nullptr;
}

thread_local std::string t_xmlsec_error;

void xmlsec_error(const char* file, int line, const char* func, const char* object,
                  const char* subject, int reason, const char* msg) {
  (void)file;
  (void)line;
  (void)func;
  if (!t_xmlsec_error.empty()) return;  // keep the first (the cause)
  std::string m;
  if (object != nullptr && std::strcmp(object, "unknown") != 0) m += object, m += ": ";
  if (subject != nullptr && std::strcmp(subject, "unknown") != 0) m += subject, m += ": ";
  for (xmlSecSize i = 0; i < XMLSEC_ERRORS_MAX_NUMBER; ++i) {
    if (xmlSecErrorsGetMsg(i) == nullptr) break;
    if (xmlSecErrorsGetCode(i) == reason) {
      m += xmlSecErrorsGetMsg(i);
      break;
    }
  }
  if (msg != nullptr && *msg != '\0') m += std::string(" (") + msg + ")";
  t_xmlsec_error = m;
}

// ---- the ECDSA P-256 SignatureValue check, handed to Assay's batched verifier ----------
//
// xmlsec processes the signature as always: SignedInfo, the allowed algorithms, the key's type
// against the SignatureMethod, every reference (dereference, transforms, C14N, digest). Its
// ecdsa-sha256 transform receives the canonical SignedInfo (execute) and then the decoded
// SignatureValue (verify). Assay registers, for that Algorithm URI, a transform class that is
// xmlsec's own (OpenSSL) class with two additions: while a thread's capture is active
// (verify_signature, for a trust-list key that is EC P-256), execute also records the bytes it
// digests, and verify records a SignatureValue of exactly 2 x 32 bytes and reports success to
// xmlsec; the caller then owes the check: the document's outcome holds only once
// crypto::ecdsa_verify_batch accepts it (complete_dcc_signatures). In every other case
// (capture inactive, signing, a shortened r||s) xmlsec's own code runs unchanged.

struct EcdsaCapture {
  bool active = false;    // set by verify_signature around xmlSecDSigCtxVerify
  bool captured = false;  // verify was reached and deferred
  std::string message;    // the bytes xmlsec's signature transform digests
  std::array<uint8_t, 64> signature{};
};
thread_local EcdsaCapture t_capture;

xmlSecTransformId g_ecdsa_sha256 = nullptr;  // xmlsec's own class (OpenSSL)
// The class registered for the ecdsa-sha256 URI: a copy of xmlsec's with wrapped methods.
struct _xmlSecTransformKlass g_ecdsa_sha256_capture {};

// Runs one of xmlsec's own methods on `t`: its OpenSSL code checks that the transform object
// is of its class, so the object carries that class for the duration of the call.
template <typename Call>
auto as_xmlsec(xmlSecTransformPtr t, Call&& call) {
  t->id = g_ecdsa_sha256;
  struct Restore {
    xmlSecTransformPtr t;
    ~Restore() { t->id = &g_ecdsa_sha256_capture; }
  } restore{t};
  return call();
}

int capture_initialize(xmlSecTransformPtr t) {
  return as_xmlsec(t, [&] { return g_ecdsa_sha256->initialize(t); });
}
void capture_finalize(xmlSecTransformPtr t) {
  as_xmlsec(t, [&] { g_ecdsa_sha256->finalize(t); });
}
int capture_set_key_req(xmlSecTransformPtr t, xmlSecKeyReqPtr req) {
  return as_xmlsec(t, [&] { return g_ecdsa_sha256->setKeyReq(t, req); });
}
int capture_set_key(xmlSecTransformPtr t, xmlSecKeyPtr key) {
  return as_xmlsec(t, [&] { return g_ecdsa_sha256->setKey(t, key); });
}

int capture_execute(xmlSecTransformPtr t, int last, xmlSecTransformCtxPtr ctx) {
  if (t_capture.active && t->operation == xmlSecTransformOperationVerify) {
    const xmlSecSize n = xmlSecBufferGetSize(&t->inBuf);
    if (n > 0)
      t_capture.message.append(reinterpret_cast<const char*>(xmlSecBufferGetData(&t->inBuf)), n);
  }
  return as_xmlsec(t, [&] { return g_ecdsa_sha256->execute(t, last, ctx); });
}

int capture_verify(xmlSecTransformPtr t, const xmlSecByte* data, xmlSecSize size,
                   xmlSecTransformCtxPtr ctx) {
  if (t_capture.active && t->operation == xmlSecTransformOperationVerify &&
      t->status == xmlSecTransformStatusFinished && data != nullptr &&
      size == t_capture.signature.size()) {
    std::memcpy(t_capture.signature.data(), data, t_capture.signature.size());
    t_capture.captured = true;
    t->status = xmlSecTransformStatusOk;  // provisional: the caller verifies (see above)
    return 0;
  }
  return as_xmlsec(t, [&] { return g_ecdsa_sha256->verify(t, data, size, ctx); });
}

// Puts the capturing class in the place of xmlsec's ecdsa-sha256 class in xmlsec's list of
// transforms (xmlsec finds a transform by its Algorithm URI in that one process-wide list).
void register_ecdsa_sha256_capture() {
  g_ecdsa_sha256 = xmlSecTransformEcdsaSha256Id;
  if (g_ecdsa_sha256 == nullptr || g_ecdsa_sha256->initialize == nullptr ||
      g_ecdsa_sha256->finalize == nullptr || g_ecdsa_sha256->setKeyReq == nullptr ||
      g_ecdsa_sha256->setKey == nullptr || g_ecdsa_sha256->verify == nullptr ||
      g_ecdsa_sha256->execute == nullptr)
    throw std::runtime_error("xmlsec: no ecdsa-sha256 transform");
  g_ecdsa_sha256_capture = *g_ecdsa_sha256;
  g_ecdsa_sha256_capture.initialize = capture_initialize;
  g_ecdsa_sha256_capture.finalize = capture_finalize;
  g_ecdsa_sha256_capture.setKeyReq = capture_set_key_req;
  g_ecdsa_sha256_capture.setKey = capture_set_key;
  g_ecdsa_sha256_capture.execute = capture_execute;
  g_ecdsa_sha256_capture.verify = capture_verify;
  xmlSecPtrListPtr ids = xmlSecTransformIdsGet();
  for (xmlSecSize i = 0; i < xmlSecPtrListGetSize(ids); ++i) {
    if (xmlSecPtrListGetItem(ids, i) != g_ecdsa_sha256) continue;
    if (xmlSecPtrListSet(ids, &g_ecdsa_sha256_capture, i) < 0) break;
    return;
  }
  throw std::runtime_error("xmlsec: cannot register the ecdsa-sha256 transform");
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    if (xmlSecInit() < 0) throw std::runtime_error("xmlsec: initialisation failed");
    if (xmlSecCheckVersion() != 1) throw std::runtime_error("xmlsec: library version mismatch");
    if (xmlSecCryptoAppInit(nullptr) < 0 || xmlSecCryptoInit() < 0)
      throw std::runtime_error("xmlsec: crypto (OpenSSL) initialisation failed");
    // No input callback may open anything: neither libxml2's (file, http, ftp) nor xmlsec's
    // (used for external references). One that refuses and counts is registered instead.
    xmlSecIOCleanupCallbacks();
    xmlCleanupInputCallbacks();
    xmlRegisterInputCallbacks(refuse_match, refuse_open, refuse_read, refuse_close);
    xmlSecIORegisterCallbacks(refuse_match, refuse_open, refuse_read, refuse_close);
    xmlSetExternalEntityLoader(refuse_entity_loader);
    xmlSecErrorsSetCallback(xmlsec_error);
    register_ecdsa_sha256_capture();
  });
}

// ---- refusals -------------------------------------------------------------------------

struct DccFail {
  CertRefusal reason;
  const xmlNode* node;  // may be null (document level)
  std::string message;
};

[[noreturn]] void fail(const xmlNode* n, std::string msg, CertRefusal why = CertRefusal::kInvalid) {
  throw DccFail{why, n, std::move(msg)};
}

std::string node_path(const xmlNode* n) {
  if (n == nullptr) return "/";
  xmlChar* p = xmlGetNodePath(n);
  std::string s = p != nullptr ? reinterpret_cast<const char*>(p) : "?";
  xmlFree(p);
  return s;
}

// ---- DOM helpers ----------------------------------------------------------------------

bool is(const xmlNode* n, const char* ns, const char* name) {
  return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr &&
         std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0 &&
         std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

const xmlNode* child(const xmlNode* p, const char* ns, const char* name) {
  if (p == nullptr) return nullptr;
  for (const xmlNode* c = p->children; c != nullptr; c = c->next)
    if (is(c, ns, name)) return c;
  return nullptr;
}

std::vector<const xmlNode*> children(const xmlNode* p, const char* ns, const char* name) {
  std::vector<const xmlNode*> out;
  if (p == nullptr) return out;
  for (const xmlNode* c = p->children; c != nullptr; c = c->next)
    if (is(c, ns, name)) out.push_back(c);
  return out;
}

std::string qname(const char* ns, const char* name) {
  const std::string_view n(ns);
  const char* prefix = n == kDccNs ? "dcc:" : n == kSiNs ? "si:" : n == kDsNs ? "ds:" : "";
  return std::string(prefix) + name;
}

const xmlNode* need(const xmlNode* p, const char* ns, const char* name) {
  const xmlNode* c = child(p, ns, name);
  if (c == nullptr) fail(p, "missing " + qname(ns, name));
  return c;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
    --e;
  return std::string(s.substr(b, e - b));
}

std::string text(const xmlNode* n) {
  if (n == nullptr) return {};
  xmlChar* c = xmlNodeGetContent(n);
  std::string s = c != nullptr ? trim(reinterpret_cast<const char*>(c)) : std::string();
  xmlFree(c);
  return s;
}

std::string attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string s = v != nullptr ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}

std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool has_ref(const xmlNode* n, std::string_view ref) {
  for (const auto& t : tokens(attr(n, "refType")))
    if (t == ref) return true;
  return false;
}

double number(const xmlNode* n, std::string_view s) {
  double v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e || b == e)
    fail(n, "'" + std::string(s) + "' is not a decimal number");
  if (!std::isfinite(v)) fail(n, "'" + std::string(s) + "' is not a finite number");
  return v;
}

double number(const xmlNode* n) {
  return number(n, text(n));
}

std::vector<double> numbers(const xmlNode* n) {
  std::vector<double> out;
  for (const auto& t : tokens(text(n))) out.push_back(number(n, t));
  if (out.empty()) fail(n, "empty list");
  return out;
}

// xs:date (optionally with a time zone) -> its start in UTC ns.
int64_t date_ns(const xmlNode* n) {
  std::string s = text(n);
  int64_t shift = 0;
  if (s.size() > 10) {
    const std::string tz = s.substr(10);
    if (tz == "Z") {
    } else if (tz.size() == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':') {
      const int h = std::atoi(tz.substr(1, 2).c_str()), m = std::atoi(tz.substr(4, 2).c_str());
      shift = (tz[0] == '+' ? -1 : 1) * (int64_t{h} * 3600 + m * 60) * 1'000'000'000;
    } else {
      fail(n, "'" + s + "' is not an xs:date");
    }
    s = s.substr(0, 10);
  }
  auto t = s.size() == 10 ? engine::parse_rfc3339(s) : std::nullopt;
  if (!t) fail(n, "'" + text(n) + "' is not an xs:date (YYYY-MM-DD)");
  return *t + shift;
}

int64_t datetime_ns(const xmlNode* n) {
  const std::string s = text(n);
  auto t = engine::parse_rfc3339(s);
  if (!t || s.size() <= 10) fail(n, "'" + s + "' is not an xs:dateTime with a time zone");
  return *t;
}

// Days from 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

// t + an xs:duration (PnYnMnDTnHnMnS, non-negative). Months and years are calendar months
// (the day is clamped to the month's last day).
int64_t add_duration(const xmlNode* n, int64_t t) {
  const std::string s = text(n);
  if (s.size() < 3 || s[0] != 'P') fail(n, "'" + s + "' is not an xs:duration such as P1Y");
  int64_t years = 0, months = 0, days = 0, secs = 0;
  bool in_time = false, any = false;
  size_t i = 1;
  while (i < s.size()) {
    if (s[i] == 'T') {
      in_time = true;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && ((s[j] >= '0' && s[j] <= '9'))) ++j;
    if (j == i || j >= s.size() || j - i > 9) fail(n, "'" + s + "' is not an xs:duration");
    const int64_t v = std::stoll(s.substr(i, j - i));
    const char u = s[j];
    any = true;
    if (!in_time && u == 'Y')
      years = v;
    else if (!in_time && u == 'M')
      months = v;
    else if (!in_time && u == 'D')
      days = v;
    else if (in_time && u == 'H')
      secs += v * 3600;
    else if (in_time && u == 'M')
      secs += v * 60;
    else if (in_time && u == 'S')
      secs += v;
    else
      fail(n, "'" + s + "' is not an xs:duration (whole numbers of Y, M, D, H, M, S)");
    i = j + 1;
  }
  if (!any) fail(n, "'" + s + "' is not an xs:duration");
  const int64_t day = t >= 0 ? t / kDayNs : -((-t + kDayNs - 1) / kDayNs);
  const int64_t rem = t - day * kDayNs;
  int64_t y;
  unsigned m, d;
  civil_from_days(day, y, m, d);
  int64_t mm = static_cast<int64_t>(m) - 1 + months + 12 * years;
  y += mm >= 0 ? mm / 12 : -((-mm + 11) / 12);
  mm = ((mm % 12) + 12) % 12;
  static constexpr unsigned kLen[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned last = kLen[mm];
  if (mm == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) last = 29;
  const int64_t nd = days_from_civil(y, static_cast<unsigned>(mm + 1), std::min(d, last)) + days;
  return nd * kDayNs + rem + secs * 1'000'000'000;
}

// ---- units ----------------------------------------------------------------------------

struct UnitRow {
  const char* dsi;   // D-SI name (after the backslash)
  const char* ucum;  // UCUM code
  int dim;
  double factor;
  double offset;
};

constexpr const char* kDimNames[] = {"temperature", "length",  "mass",       "time",      "current",
                                     "pressure",    "voltage", "resistance", "frequency", "ratio",
                                     "force",       "power",   "energy",     "volume",    "amount"};

constexpr UnitRow kUnits[] = {
    {"kelvin", "K", 0, 1, 0},  {"degreecelsius", "Cel", 0, 1, 273.15},
    {"metre", "m", 1, 1, 0},   {"kilogram", "kg", 2, 1, 0},
    {"gram", "g", 2, 1e-3, 0}, {"second", "s", 3, 1, 0},
    {"ampere", "A", 4, 1, 0},  {"pascal", "Pa", 5, 1, 0},
    {"bar", "bar", 5, 1e5, 0}, {"volt", "V", 6, 1, 0},
    {"ohm", "Ohm", 7, 1, 0},   {"hertz", "Hz", 8, 1, 0},
    {"one", "1", 9, 1, 0},     {"percent", "%", 9, 0.01, 0},
    {"newton", "N", 10, 1, 0}, {"watt", "W", 11, 1, 0},
    {"joule", "J", 12, 1, 0},  {"litre", "L", 13, 1e-3, 0},
    {"mole", "mol", 14, 1, 0},
};

struct PrefixRow {
  const char* dsi;
  const char* ucum;
  double factor;
};

constexpr PrefixRow kPrefixes[] = {
    {"yocto", "y", 1e-24}, {"zepto", "z", 1e-21}, {"atto", "a", 1e-18}, {"femto", "f", 1e-15},
    {"pico", "p", 1e-12},  {"nano", "n", 1e-9},   {"micro", "u", 1e-6}, {"milli", "m", 1e-3},
    {"centi", "c", 1e-2},  {"deci", "d", 1e-1},   {"deca", "da", 1e1},  {"hecto", "h", 1e2},
    {"kilo", "k", 1e3},    {"mega", "M", 1e6},    {"giga", "G", 1e9},   {"tera", "T", 1e12},
    {"peta", "P", 1e15},   {"exa", "E", 1e18},    {"zetta", "Z", 1e21}, {"yotta", "Y", 1e24},
};

DsiUnit make_unit(const UnitRow& u, const PrefixRow* p) {
  DsiUnit out;
  out.dimension = u.dim;
  out.quantity = kDimNames[u.dim];
  out.factor = u.factor * (p != nullptr ? p->factor : 1.0);
  out.offset = u.offset;
  out.ucum = std::string(p != nullptr ? p->ucum : "") + u.ucum;
  return out;
}

// Values in `from` converted to `to` (same dimension): affine for values, scale only for
// differences (errors, uncertainties, limits).
double convert(double v, const DsiUnit& from, const DsiUnit& to, bool difference) {
  if (difference) return v * from.factor / to.factor;
  return (v * from.factor + from.offset - to.offset) / to.factor;
}

}  // namespace

DsiUnit parse_dsi_unit(std::string_view dsi) {
  const std::string s = trim(dsi);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '\\') return {};
    size_t j = i + 1;
    while (j < s.size() && s[j] != '\\') ++j;
    parts.emplace_back(s.substr(i + 1, j - i - 1));
    i = j;
  }
  if (parts.empty() || parts.size() > 2) return {};
  const PrefixRow* prefix = nullptr;
  if (parts.size() == 2) {
    for (const auto& p : kPrefixes)
      if (parts[0] == p.dsi) prefix = &p;
    if (prefix == nullptr) return {};
  }
  for (const auto& u : kUnits) {
    if (parts.back() != u.dsi) continue;
    // A prefixed base unit only where it means something (\kilo\kilogram does not).
    if (prefix != nullptr && (u.dim == 9 || std::string_view(u.dsi) == "kilogram" ||
                              std::string_view(u.dsi) == "degreecelsius"))
      return {};
    return make_unit(u, prefix);
  }
  return {};
}

DsiUnit parse_ucum_unit(std::string_view ucum) {
  const std::string s = trim(ucum);
  for (const auto& u : kUnits)
    if (s == u.ucum) return make_unit(u, nullptr);
  for (const auto& p : kPrefixes) {
    const std::string_view ps(p.ucum);
    if (!s.starts_with(ps)) continue;
    const std::string rest = s.substr(ps.size());
    for (const auto& u : kUnits) {
      if (rest != u.ucum || u.dim == 9 || std::string_view(u.dsi) == "kilogram" ||
          std::string_view(u.dsi) == "degreecelsius")
        continue;
      return make_unit(u, &p);
    }
  }
  return {};
}

namespace {

// ---- D-SI quantities --------------------------------------------------------------------

// One point's uncertainty as stated.
struct PointUnc {
  bool stated = false;
  double u = 0;  // standard uncertainty (in the list's unit)
  double k = 0;  // coverage factor (0: not stated)
  double p = 0;  // coverage probability (0: not stated)
};

// The values of one dcc:quantity in one representation (one unit per value).
struct Series {
  const xmlNode* node = nullptr;  // the si element the values came from
  std::vector<double> values;
  std::vector<DsiUnit> units;
  std::vector<std::string> unit_text;
  std::vector<PointUnc> unc;  // empty: no uncertainty stated
  const xmlNode* unc_node = nullptr;
  std::string form;  // D-SI form of the uncertainty
};

double probability(const xmlNode* n) {
  const double p = number(n);
  if (p <= 0 || p > 1) fail(n, "coverage probability must be in (0, 1]");
  return p;
}

double coverage_factor(const xmlNode* n) {
  const double k = number(n);
  if (k <= 0) fail(n, "coverage factor must be > 0");
  return k;
}

double uncertainty_value(const xmlNode* n) {
  const double u = number(n);
  if (u < 0) fail(n, "an uncertainty must not be negative");
  return u;
}

PointUnc expanded(double big_u, double k, double p) {
  return {true, big_u / k, k, p};
}

// A probabilistically symmetric coverage interval [lo, hi] around v with standard
// uncertainty u: the expanded uncertainty is the larger half-width, k = U / u.
PointUnc interval(const xmlNode* n, double v, double u, double lo, double hi, double p) {
  if (lo > v || hi < v) fail(n, "the coverage interval does not contain the value");
  const double big_u = std::max(v - lo, hi - v);
  if (u <= 0) fail(n, "a coverage interval needs a standard uncertainty > 0");
  return {true, u, big_u / u, p};
}

// Uncertainty of a single value (si:real, si:real in si:realList, si:listUnivariateUnc).
// Returns the form's name, or nullptr when the parent states none.
const char* single_uncertainty(const xmlNode* parent, double v, PointUnc& out,
                               const xmlNode** where) {
  if (const xmlNode* e = child(parent, kSiNs, "expandedUnc")) {
    *where = e;
    out = expanded(uncertainty_value(need(e, kSiNs, "uncertainty")),
                   coverage_factor(need(e, kSiNs, "coverageFactor")),
                   probability(need(e, kSiNs, "coverageProbability")));
    return "si:expandedUnc";
  }
  if (const xmlNode* c = child(parent, kSiNs, "coverageInterval")) {
    *where = c;
    out = interval(c, v, uncertainty_value(need(c, kSiNs, "standardUnc")),
                   number(need(c, kSiNs, "intervalMin")), number(need(c, kSiNs, "intervalMax")),
                   probability(need(c, kSiNs, "coverageProbability")));
    return "si:coverageInterval";
  }
  if (const xmlNode* m = child(parent, kSiNs, "measurementUncertaintyUnivariate")) {
    *where = m;
    if (const xmlNode* e = child(m, kSiNs, "expandedMU")) {
      out = expanded(uncertainty_value(need(e, kSiNs, "valueExpandedMU")),
                     coverage_factor(need(e, kSiNs, "coverageFactor")),
                     probability(need(e, kSiNs, "coverageProbability")));
      return "si:expandedMU";
    }
    if (const xmlNode* c = child(m, kSiNs, "coverageIntervalMU")) {
      out = interval(c, v, uncertainty_value(need(c, kSiNs, "valueStandardMU")),
                     number(need(c, kSiNs, "intervalMin")), number(need(c, kSiNs, "intervalMax")),
                     probability(need(c, kSiNs, "coverageProbability")));
      return "si:coverageIntervalMU";
    }
    if (const xmlNode* s = child(m, kSiNs, "standardMU")) {
      out = {true, uncertainty_value(need(s, kSiNs, "valueStandardMU")), 0, 0};
      return "si:standardMU";
    }
    fail(m, "expected si:expandedMU, si:coverageIntervalMU or si:standardMU");
  }
  for (const char* multi : {"ellipsoidalRegion", "rectangularRegion",
                            "measurementUncertaintyMultivariate", "covarianceMatrix"})
    if (const xmlNode* x = child(parent, kSiNs, multi))
      fail(x, std::string("multivariate uncertainty (si:") + multi +
                  ") is not supported: Assay maps univariate quantities");
  return nullptr;
}

// Broadcast a list of length 1 to n (the D-SI XMLList convention), else require length n.
std::vector<double> list_of(const xmlNode* n, size_t count) {
  std::vector<double> v = numbers(n);
  if (v.size() == 1 && count > 1) v.assign(count, v[0]);
  if (v.size() != count)
    fail(n, "has " + std::to_string(v.size()) + " values for " + std::to_string(count) + " points");
  return v;
}

const char* list_uncertainty(const xmlNode* list, const std::vector<double>& v,
                             std::vector<PointUnc>& out, const xmlNode** where) {
  const size_t n = v.size();
  out.assign(n, {});
  if (const xmlNode* e = child(list, kSiNs, "expandedUncXMLList")) {
    *where = e;
    auto U = list_of(need(e, kSiNs, "uncertaintyXMLList"), n);
    auto k = list_of(need(e, kSiNs, "coverageFactorXMLList"), n);
    auto p = list_of(need(e, kSiNs, "coverageProbabilityXMLList"), n);
    for (size_t i = 0; i < n; ++i) {
      if (U[i] < 0) fail(e, "an uncertainty must not be negative");
      if (k[i] <= 0) fail(e, "coverage factor must be > 0");
      if (p[i] <= 0 || p[i] > 1) fail(e, "coverage probability must be in (0, 1]");
      out[i] = expanded(U[i], k[i], p[i]);
    }
    return "si:expandedUncXMLList";
  }
  auto intervals = [&](const xmlNode* c, const char* std_name) {
    auto u = list_of(need(c, kSiNs, std_name), n);
    auto lo = list_of(need(c, kSiNs, "intervalMinXMLList"), n);
    auto hi = list_of(need(c, kSiNs, "intervalMaxXMLList"), n);
    auto p = list_of(need(c, kSiNs, "coverageProbabilityXMLList"), n);
    for (size_t i = 0; i < n; ++i) {
      if (u[i] < 0) fail(c, "an uncertainty must not be negative");
      if (p[i] <= 0 || p[i] > 1) fail(c, "coverage probability must be in (0, 1]");
      out[i] = interval(c, v[i], u[i], lo[i], hi[i], p[i]);
    }
  };
  if (const xmlNode* c = child(list, kSiNs, "coverageIntervalXMLList")) {
    *where = c;
    intervals(c, "standardUncXMLList");
    return "si:coverageIntervalXMLList";
  }
  if (const xmlNode* m = child(list, kSiNs, "measurementUncertaintyUnivariateXMLList")) {
    *where = m;
    if (const xmlNode* e = child(m, kSiNs, "expandedMUXMLList")) {
      auto U = list_of(need(e, kSiNs, "valueExpandedMUXMLList"), n);
      auto k = list_of(need(e, kSiNs, "coverageFactorXMLList"), n);
      auto p = list_of(need(e, kSiNs, "coverageProbabilityXMLList"), n);
      for (size_t i = 0; i < n; ++i) {
        if (U[i] < 0) fail(e, "an uncertainty must not be negative");
        if (k[i] <= 0) fail(e, "coverage factor must be > 0");
        if (p[i] <= 0 || p[i] > 1) fail(e, "coverage probability must be in (0, 1]");
        out[i] = expanded(U[i], k[i], p[i]);
      }
      return "si:expandedMUXMLList";
    }
    if (const xmlNode* c = child(m, kSiNs, "coverageIntervalMUXMLList")) {
      intervals(c, "valueStandardMUXMLList");
      return "si:coverageIntervalMUXMLList";
    }
    if (const xmlNode* s = child(m, kSiNs, "standardMUXMLList")) {
      auto u = list_of(need(s, kSiNs, "valueStandardMUXMLList"), n);
      for (size_t i = 0; i < n; ++i) {
        if (u[i] < 0) fail(s, "an uncertainty must not be negative");
        out[i] = {true, u[i], 0, 0};
      }
      return "si:standardMUXMLList";
    }
    fail(m, "expected si:expandedMUXMLList, si:coverageIntervalMUXMLList or si:standardMUXMLList");
  }
  for (const char* multi : {"ellipsoidalRegionXMLList", "rectangularRegionXMLList",
                            "measurementUncertaintyMultivariateXMLList"})
    if (const xmlNode* x = child(list, kSiNs, multi))
      fail(x, std::string("multivariate uncertainty (si:") + multi +
                  ") is not supported: Assay maps univariate quantities");
  out.clear();
  return nullptr;
}

DsiUnit unit_of(const xmlNode* n, const std::string& s) {
  DsiUnit u = parse_dsi_unit(s);
  if (u.dimension < 0)
    fail(n, "unit '" + s +
                "' is not one Assay converts (a D-SI unit such as \\kelvin or \\milli\\volt, "
                "with at most one prefix)");
  return u;
}

// One representation (si:real, si:constant, si:realListXMLList, si:realList).
Series parse_representation(const xmlNode* r) {
  Series s;
  s.node = r;
  if (is(r, kSiNs, "real")) {
    const double v = number(need(r, kSiNs, "value"));
    const xmlNode* un = need(r, kSiNs, "unit");
    s.values = {v};
    s.unit_text = {text(un)};
    s.units = {unit_of(un, s.unit_text[0])};
    PointUnc pu;
    if (const char* f = single_uncertainty(r, v, pu, &s.unc_node)) {
      s.unc = {pu};
      s.form = f;
    }
  } else if (is(r, kSiNs, "constant")) {
    const double v = number(need(r, kSiNs, "value"));
    const xmlNode* un = need(r, kSiNs, "unit");
    s.values = {v};
    s.unit_text = {text(un)};
    s.units = {unit_of(un, s.unit_text[0])};
    if (const xmlNode* u = child(r, kSiNs, "uncertainty")) {
      s.unc = {{true, uncertainty_value(u), 0, 0}};
      s.unc_node = u;
      s.form = "si:constant/si:uncertainty";
    }
  } else if (is(r, kSiNs, "realListXMLList")) {
    s.values = numbers(need(r, kSiNs, "valueXMLList"));
    const xmlNode* un = need(r, kSiNs, "unitXMLList");
    auto texts = tokens(text(un));
    if (texts.size() == 1) texts.assign(s.values.size(), texts[0]);
    if (texts.size() != s.values.size())
      fail(un, "has " + std::to_string(texts.size()) + " units for " +
                   std::to_string(s.values.size()) + " values");
    s.unit_text = texts;
    for (const auto& t : texts) s.units.push_back(unit_of(un, t));
    if (const char* f = list_uncertainty(r, s.values, s.unc, &s.unc_node)) s.form = f;
  } else if (is(r, kSiNs, "realList")) {
    const xmlNode* lu = child(r, kSiNs, "listUnit");
    const xmlNode* global = child(r, kSiNs, "listUnivariateUnc");
    for (const char* multi : {"ellipsoidalRegion", "rectangularRegion"})
      if (const xmlNode* x = child(r, kSiNs, multi))
        fail(x, std::string("multivariate uncertainty (si:") + multi + ") is not supported");
    bool any_local = false;
    for (const xmlNode* e : children(r, kSiNs, "real")) {
      const double v = number(need(e, kSiNs, "value"));
      const xmlNode* un = child(e, kSiNs, "unit");
      if (un == nullptr) un = lu;
      if (un == nullptr) fail(e, "missing si:unit (and the list has no si:listUnit)");
      s.values.push_back(v);
      s.unit_text.push_back(text(un));
      s.units.push_back(unit_of(un, s.unit_text.back()));
      PointUnc pu;
      const xmlNode* where = nullptr;
      const char* f = single_uncertainty(e, v, pu, &where);
      std::string form = f != nullptr ? std::string("si:realList/") + f : std::string();
      if (f == nullptr && global != nullptr) {
        f = single_uncertainty(global, v, pu, &where);
        if (f == nullptr) fail(global, "si:listUnivariateUnc states no uncertainty");
        form = std::string("si:realList/si:listUnivariateUnc/") + f;
      }
      if (f != nullptr) {
        if (!s.form.empty() && s.form != form) fail(e, "mixes uncertainty forms in one list");
        s.form = form;
        s.unc_node = where;
        any_local = true;
        s.unc.push_back(pu);
      } else if (any_local) {
        fail(e, "states no uncertainty while other values of the list do");
      }
    }
    if (s.values.empty()) fail(r, "an si:realList without si:real");
    if (!s.unc.empty() && s.unc.size() != s.values.size())
      fail(r, "states an uncertainty for some values only");
  } else if (is(r, kSiNs, "list")) {
    fail(r, "nested si:list is not supported (use si:realListXMLList or si:realList)");
  } else if (is(r, kSiNs, "complex") || is(r, kSiNs, "complexList")) {
    fail(r, "complex quantities are not supported");
  } else {
    fail(r, "unexpected element");
  }
  return s;
}

bool same_dimension(const Series& s, const DsiUnit& target) {
  for (const auto& u : s.units)
    if (u.dimension != target.dimension) return false;
  return true;
}

// The D-SI value of a dcc:quantity in the target unit's dimension (a si:hybrid offers several
// representations: the one in exactly the target unit wins, then the first convertible one).
// `target` empty (dimension -1): the first representation, and `target` becomes its unit.
Series quantity_values(const xmlNode* q, DsiUnit& target) {
  const xmlNode* si = nullptr;
  for (const xmlNode* c = q->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns == nullptr ||
        std::strcmp(reinterpret_cast<const char*>(c->ns->href), kSiNs) != 0)
      continue;
    si = c;
    break;
  }
  if (si == nullptr) fail(q, "the quantity has no D-SI value (si:real, si:realListXMLList, ...)");
  std::vector<Series> reps;
  if (is(si, kSiNs, "hybrid")) {
    for (const xmlNode* c = si->children; c != nullptr; c = c->next)
      if (c->type == XML_ELEMENT_NODE) reps.push_back(parse_representation(c));
    if (reps.empty()) fail(si, "empty si:hybrid");
  } else {
    reps.push_back(parse_representation(si));
  }
  if (target.dimension < 0) {
    target = reps[0].units[0];
    if (!same_dimension(reps[0], target)) fail(reps[0].node, "mixes units of different dimensions");
    return reps[0];
  }
  for (const auto& r : reps) {
    bool exact = true;
    for (const auto& u : r.units) exact = exact && u.ucum == target.ucum;
    if (exact) return r;
  }
  for (const auto& r : reps)
    if (same_dimension(r, target)) return r;
  std::string stated;
  for (const auto& r : reps) stated += (stated.empty() ? "" : ", ") + r.unit_text[0];
  fail(si, "unit mismatch: no value in a unit of the sensor's (" + target.ucum + ", " +
               target.quantity + "); the DCC states " + stated);
}

// Values converted to `target` (difference: scale only).
std::vector<double> in_unit(const Series& s, const DsiUnit& target, bool difference) {
  std::vector<double> out(s.values.size());
  for (size_t i = 0; i < s.values.size(); ++i)
    out[i] = convert(s.values[i], s.units[i], target, difference);
  return out;
}

// ---- signature ------------------------------------------------------------------------

struct SignatureCheck {
  const LabKey* key = nullptr;
  std::string method;
  std::vector<uint8_t> value;
  int64_t signing_time_ns = 0;
};

// The SignatureValue check verify_signature left to the caller (see EcdsaCapture), with the
// refusal it turns into (located at the ds:Signature).
struct DeferredCheck {
  bool set = false;
  std::shared_ptr<const DccVerifyKey> key;
  std::string message;
  std::array<uint8_t, 64> signature{};
  long line = 0;
  std::string path;
  std::string why;
};

std::vector<uint8_t> base64(const xmlNode* n) {
  std::string s;
  for (char c : text(n))
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') s.push_back(c);
  if (s.empty() || s.size() % 4 != 0) fail(n, "not base64", CertRefusal::kBadSignature);
  std::vector<uint8_t> out(s.size() / 4 * 3);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
  if (len < 0) fail(n, "not base64", CertRefusal::kBadSignature);
  size_t pad = 0;
  if (s.back() == '=') ++pad;
  if (s.size() >= 2 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

void collect(const xmlNode* n, const char* ns, const char* name, std::vector<const xmlNode*>& out) {
  for (const xmlNode* c = n; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (is(c, ns, name)) out.push_back(c);
    collect(c->children, ns, name, out);
  }
}

// Registers every Id/ID/id attribute as an XML ID (so that "#id" references resolve) and
// refuses duplicates (a second element with the same id is a signature-wrapping attempt).
void register_ids(xmlDocPtr doc, xmlNode* n) {
  for (xmlNode* c = n; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    for (xmlAttr* a = c->properties; a != nullptr; a = a->next) {
      if (a->ns != nullptr) continue;
      const char* nm = reinterpret_cast<const char*>(a->name);
      if (std::strcmp(nm, "Id") != 0 && std::strcmp(nm, "ID") != 0 && std::strcmp(nm, "id") != 0)
        continue;
      xmlChar* v = xmlNodeListGetString(doc, a->children, 1);
      if (v == nullptr) continue;
      if (xmlGetID(doc, v) != nullptr) {
        const std::string id = reinterpret_cast<const char*>(v);
        xmlFree(v);
        fail(c, "duplicate ID '" + id + "'", CertRefusal::kBadSignature);
      }
      xmlAddID(nullptr, doc, v, a);
      xmlFree(v);
    }
    register_ids(doc, c->children);
  }
}

const LabKey* signer_key(const xmlNode* sig, const TrustList& trust) {
  const xmlNode* ki = child(sig, kDsNs, "KeyInfo");
  if (ki == nullptr)
    fail(sig, "the signature names no key (ds:KeyInfo with ds:X509Data or ds:KeyName)",
         CertRefusal::kUntrustedLab);
  std::vector<const xmlNode*> certs;
  collect(ki->children, kDsNs, "X509Certificate", certs);
  for (const xmlNode* c : certs) {
    const std::vector<uint8_t> der = base64(c);
    std::array<uint8_t, 32> fp{};
    unsigned int len = 0;
    EVP_Digest(der.data(), der.size(), fp.data(), &len, EVP_sha256(), nullptr);
    if (const LabKey* k = trust.find_x509(fp)) return k;
  }
  for (const xmlNode* kn : children(ki, kDsNs, "KeyName")) {
    const LabKey* k = trust.find(text(kn));
    if (k != nullptr && k->alg == "X509") return k;
  }
  if (!certs.empty())
    fail(certs[0], "the signer's X.509 certificate is not in the trust list",
         CertRefusal::kUntrustedLab);
  fail(ki, "no ds:X509Certificate or ds:KeyName of the signature is in the trust list",
       CertRefusal::kUntrustedLab);
}

SignatureCheck verify_signature(xmlDocPtr doc, const xmlNode* root, const TrustList& trust,
                                DeferredCheck& deferred) {
  std::vector<const xmlNode*> sigs;
  collect(root, kDsNs, "Signature", sigs);
  if (sigs.empty()) fail(root, "the DCC is unsigned (no ds:Signature)", CertRefusal::kUnsigned);
  if (sigs.size() > 1)
    fail(sigs[1], "more than one ds:Signature (Assay verifies exactly one enveloped signature)",
         CertRefusal::kBadSignature);
  const xmlNode* sig = sigs[0];
  if (sig->parent != root)
    fail(sig, "the ds:Signature must be a child of the root element (enveloped)",
         CertRefusal::kBadSignature);
  const xmlNode* si = need(sig, kDsNs, "SignedInfo");
  // Every reference must point into this document; one must cover all of it.
  std::vector<const xmlNode*> refs;
  collect(sig->children, kDsNs, "Reference", refs);
  const std::string root_id = attr(root, "Id").empty() ? attr(root, "ID") : attr(root, "Id");
  bool whole = false;
  std::vector<std::string> local_ids;
  std::vector<std::string> signed_props;
  for (const xmlNode* r : refs) {
    if (!xmlHasProp(r, reinterpret_cast<const xmlChar*>("URI")))
      fail(r, "a ds:Reference without URI refers to data outside the document; refused",
           CertRefusal::kBadSignature);
    const std::string uri = attr(r, "URI");
    const bool local_id =
        uri.size() > 1 && uri[0] == '#' && uri.find_first_of("()/ ") == std::string::npos;
    if (local_id) local_ids.push_back(uri.substr(1));
    if (!uri.empty() && !local_id)
      fail(r,
           "ds:Reference URI '" + uri +
               "' is not in this document (only \"\" and \"#id\" are allowed; nothing "
               "referenced is ever fetched)",
           CertRefusal::kBadSignature);
    if (r->parent == si && (uri.empty() || (local_id && uri.substr(1) == root_id))) whole = true;
    if (r->parent == si && local_id && attr(r, "Type") == kXadesSignedProps)
      signed_props.push_back(uri.substr(1));
  }
  if (!whole)
    fail(si, "no ds:Reference of ds:SignedInfo covers the whole document (URI=\"\")",
         CertRefusal::kBadSignature);
  SignatureCheck out;
  out.key = signer_key(sig, trust);
  out.method = attr(need(si, kDsNs, "SignatureMethod"), "Algorithm");
  out.value = base64(need(sig, kDsNs, "SignatureValue"));
  if (out.key->revoked)
    fail(sig, "lab key '" + out.key->key_id + "' is revoked", CertRefusal::kUntrustedLab);
  if (!local_ids.empty()) register_ids(doc, xmlDocGetRootElement(doc));  // only "#id" needs IDs

  xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(nullptr);
  if (ctx == nullptr) fail(sig, "xmlsec: cannot create a context", CertRefusal::kBadSignature);
  // The trust list's key is used as it is, not duplicated (duplicating it copies and
  // re-decodes its X.509 certificate, which costs more than the verification); verification
  // only reads it, so threads share it. It is detached before the context is destroyed.
  struct Free {
    xmlSecDSigCtxPtr c;
    ~Free() {
      c->signKey = nullptr;
      xmlSecDSigCtxDestroy(c);
    }
  } free_ctx{ctx};
  ctx->signKey = out.key->dcc_key->key;
  ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
  ctx->enabledReferenceUris = static_cast<xmlSecTransformUriType>(
      xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument);
  const xmlSecTransformId c14n[] = {
      xmlSecTransformInclC14NId,   xmlSecTransformInclC14NWithCommentsId,
      xmlSecTransformInclC14N11Id, xmlSecTransformInclC14N11WithCommentsId,
      xmlSecTransformExclC14NId,   xmlSecTransformExclC14NWithCommentsId};
  const xmlSecTransformId digests[] = {xmlSecTransformSha256Id, xmlSecTransformSha384Id,
                                       xmlSecTransformSha512Id};
  const xmlSecTransformId methods[] = {xmlSecTransformRsaSha256Id,   xmlSecTransformRsaSha384Id,
                                       xmlSecTransformRsaSha512Id,   &g_ecdsa_sha256_capture,
                                       xmlSecTransformEcdsaSha384Id, xmlSecTransformEcdsaSha512Id};
  for (auto id : c14n) {
    xmlSecDSigCtxEnableReferenceTransform(ctx, id);
    xmlSecDSigCtxEnableSignatureTransform(ctx, id);
  }
  xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
  for (auto id : digests) xmlSecDSigCtxEnableReferenceTransform(ctx, id);
  for (auto id : methods) xmlSecDSigCtxEnableSignatureTransform(ctx, id);
  t_xmlsec_error.clear();
  // An ecdsa-sha256 signature by a P-256 trust-list key: xmlsec hands its SignatureValue check
  // to the caller (EcdsaCapture); the capture ends with this function, whatever happens.
  const std::shared_ptr<const DccVerifyKey>& dkey = out.key->dcc_key;
  const bool capture = dkey != nullptr && dkey->p256.has_value() && out.method == kEcdsaSha256;
  struct Capture {
    explicit Capture(bool on) {
      t_capture.active = on;
      t_capture.captured = false;
      t_capture.message.clear();
    }
    ~Capture() { t_capture.active = false; }
  } capturing{capture};
  const int rc = xmlSecDSigCtxVerify(ctx, const_cast<xmlNode*>(sig));
  if (rc < 0 || ctx->status != xmlSecDSigStatusSucceeded) {
    std::string why =
        rc < 0 ? "the signature could not be processed" : "the signature does not verify";
    if (rc >= 0) {
      // Which reference failed, if one did (a changed value fails its digest).
      for (xmlSecSize i = 0; i < xmlSecPtrListGetSize(&ctx->signedInfoReferences); ++i) {
        auto* rc_ctx = static_cast<xmlSecDSigReferenceCtxPtr>(
            xmlSecPtrListGetItem(&ctx->signedInfoReferences, i));
        if (rc_ctx != nullptr && rc_ctx->status != xmlSecDSigStatusSucceeded) {
          const char* u = reinterpret_cast<const char*>(rc_ctx->uri);
          why += std::string(": the digest of reference URI=\"") + (u != nullptr ? u : "") +
                 "\" does not match (the document was changed after signing)";
          break;
        }
      }
    }
    if (rc < 0 && !t_xmlsec_error.empty()) why += " (" + t_xmlsec_error + ")";
    fail(sig, why + " [lab key '" + out.key->key_id + "']", CertRefusal::kBadSignature);
  }
  if (capture && t_capture.captured) {
    // xmlsec accepted everything but the SignatureValue, which the caller verifies; if it does
    // not, the refusal is the one xmlsec's own check gives (a failed check, no reference named).
    deferred.set = true;
    deferred.key = dkey;
    deferred.message = t_capture.message;
    deferred.signature = t_capture.signature;
    deferred.line = xmlGetLineNo(sig);
    deferred.path = node_path(sig);
    deferred.why = "the signature does not verify [lab key '" + out.key->key_id + "']";
  }
  // XAdES signing time, from signed properties that a verified reference covers.
  for (const auto& id : signed_props) {
    xmlAttrPtr a = xmlGetID(doc, reinterpret_cast<const xmlChar*>(id.c_str()));
    if (a == nullptr || a->parent == nullptr) continue;
    const xmlNode* sp = a->parent;
    if (const xmlNode* ssp = child(sp, kXadesNs, "SignedSignatureProperties"))
      if (const xmlNode* st = child(ssp, kXadesNs, "SigningTime"))
        out.signing_time_ns = datetime_ns(st);
  }
  return out;
}

// ---- the mapping ----------------------------------------------------------------------

enum Conformity { kPass = 0, kConditionalPass, kNoFail, kNoPass, kConditionalFail, kFail };
constexpr const char* kConformityNames[] = {"pass",   "conditionalPass", "noFail",
                                            "noPass", "conditionalFail", "fail"};

int conformity_of(const xmlNode* n, std::string_view s) {
  for (int i = 0; i < 6; ++i)
    if (s == kConformityNames[i]) return i;
  fail(n, "unknown conformity '" + std::string(s) +
              "' (pass, fail, conditionalPass, conditionalFail, noPass, noFail)");
}

struct Table {
  const xmlNode* container = nullptr;
  const xmlNode* reference = nullptr;
  const xmlNode* measured = nullptr;
  const xmlNode* error = nullptr;
};

void find_tables(const xmlNode* container, std::vector<Table>& out) {
  Table t;
  t.container = container;
  for (const xmlNode* q : children(container, kDccNs, "quantity")) {
    const xmlNode** slot = has_ref(q, "basic_referenceValue")     ? &t.reference
                           : has_ref(q, "basic_measuredValue")    ? &t.measured
                           : has_ref(q, "basic_measurementError") ? &t.error
                                                                  : nullptr;
    if (slot == nullptr) continue;
    if (*slot != nullptr)
      fail(q, "the table has two quantities with refType " + attr(q, "refType"));
    *slot = q;
  }
  if (t.reference != nullptr || t.measured != nullptr || t.error != nullptr) out.push_back(t);
  for (const xmlNode* l : children(container, kDccNs, "list")) find_tables(l, out);
}

// Whether the import records what it took with XML paths (assay dcc inspect); a registry
// load does not pay for the paths.
thread_local bool t_record_taken = false;

template <typename Value>
void take(DccImport& im, const char* field, Value&& value, const xmlNode* n) {
  if (!t_record_taken) return;
  im.taken.push_back({field, value(), node_path(n), n != nullptr ? xmlGetLineNo(n) : 0});
}

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// Least-squares polynomial r = sum a_j x^j (degree 1 or 2), fitted on centred, scaled x.
std::vector<double> fit(const std::vector<double>& x, const std::vector<double>& r, int degree) {
  const size_t n = x.size();
  double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  double scale = 0;
  for (double v : x) scale = std::max(scale, std::fabs(v - mean));
  if (scale == 0) scale = 1;
  const int m = degree + 1;
  double a[3][4] = {};
  for (size_t i = 0; i < n; ++i) {
    const double t = (x[i] - mean) / scale;
    double p[3] = {1, t, t * t};
    for (int j = 0; j < m; ++j) {
      for (int k = 0; k < m; ++k) a[j][k] += p[j] * p[k];
      a[j][m] += p[j] * r[i];
    }
  }
  for (int c = 0; c < m; ++c) {  // Gaussian elimination, partial pivoting
    int piv = c;
    for (int j = c + 1; j < m; ++j)
      if (std::fabs(a[j][c]) > std::fabs(a[piv][c])) piv = j;
    if (std::fabs(a[piv][c]) < 1e-300) return {};
    for (int k = 0; k <= m; ++k) std::swap(a[c][k], a[piv][k]);
    for (int j = 0; j < m; ++j) {
      if (j == c) continue;
      const double f = a[j][c] / a[c][c];
      for (int k = c; k <= m; ++k) a[j][k] -= f * a[c][k];
    }
  }
  double b[3] = {};
  for (int j = 0; j < m; ++j) b[j] = a[j][m] / a[j][j];
  // r = b0 + b1 t + b2 t^2 with t = (x - mean) / scale, expanded in powers of x.
  const double s1 = 1 / scale, s2 = s1 * s1;
  std::vector<double> out(static_cast<size_t>(m));
  out[0] = b[0] - b[1] * mean * s1 + (m > 2 ? b[2] * mean * mean * s2 : 0);
  out[1] = b[1] * s1 - (m > 2 ? 2 * b[2] * mean * s2 : 0);
  if (m > 2) out[2] = b[2] * s2;
  return out;
}

DccImport map_dcc(xmlDocPtr doc, const xmlNode* root, const TrustList& trust,
                  const IdentityRegistry* identity, DeferredCheck& deferred) {
  DccImport im;
  CalibrationCertificate& c = im.cert;
  im.schema_version = attr(root, "schemaVersion");
  if (!im.schema_version.starts_with("3."))
    fail(root, "schemaVersion '" + im.schema_version + "' is not supported (DCC 3.x)");
  // Signature first: nothing of an unverified document is used.
  // (An ECDSA P-256 SignatureValue may be left to the caller: `deferred`; the mapping below
  // then stands only once it verifies.)
  const SignatureCheck sig = verify_signature(doc, root, trust, deferred);
  im.signature_method = sig.method;
  im.signer_subject = sig.key->x509_subject;
  im.signing_time_ns = sig.signing_time_ns;

  const xmlNode* admin = need(root, kDccNs, "administrativeData");
  const xmlNode* core = need(admin, kDccNs, "coreData");
  const xmlNode* uid = need(core, kDccNs, "uniqueIdentifier");
  c.certificate_id = text(uid);
  if (c.certificate_id.empty()) fail(uid, "empty dcc:uniqueIdentifier");
  take(
      im, "certificate_id", [&] { return std::string(c.certificate_id); }, uid);

  // The item and its sensor id.
  const xmlNode* items = need(admin, kDccNs, "items");
  const auto item_list = children(items, kDccNs, "item");
  if (item_list.size() != 1)
    fail(items, std::to_string(item_list.size()) +
                    " dcc:item elements: Assay maps a DCC of exactly one instrument");
  const xmlNode* idents = child(item_list[0], kDccNs, "identifications");
  const auto ids = children(idents, kDccNs, "identification");
  const xmlNode* chosen = nullptr;
  for (const char* rule : {"refType", "owner", "customer"}) {
    std::vector<const xmlNode*> hits;
    for (const xmlNode* id : ids) {
      const bool hit = std::string_view(rule) == "refType"
                           ? has_ref(id, "assay_sensorId")
                           : text(child(id, kDccNs, "issuer")) == rule;
      if (hit) hits.push_back(id);
    }
    if (hits.size() > 1)
      fail(hits[1], std::string("several item identifications ") +
                        (std::string_view(rule) == "refType" ? "with refType assay_sensorId"
                                                             : std::string("issued by ") + rule) +
                        ": which one is the sensor id is ambiguous");
    if (hits.size() == 1) {
      chosen = hits[0];
      break;
    }
  }
  if (chosen == nullptr)
    fail(idents != nullptr ? idents : item_list[0],
         "no item identification names the sensor (refType assay_sensorId, else issuer owner, "
         "else issuer customer)");
  const xmlNode* idv = need(chosen, kDccNs, "value");
  c.sensor_id = text(idv);
  if (c.sensor_id.empty()) fail(idv, "empty sensor id");
  take(
      im, "sensor_id", [&] { return std::string(c.sensor_id); }, idv);
  const SensorInfo* info = identity != nullptr ? identity->find_sensor(c.sensor_id) : nullptr;

  // The lab: the trust-list entry that verified the signature; a stated accreditation code
  // must be that lab's.
  c.lab_id = sig.key->lab_id;
  c.lab_key_id = sig.key->key_id;
  if (const xmlNode* lab = child(admin, kDccNs, "calibrationLaboratory"))
    if (const xmlNode* code = child(lab, kDccNs, "calibrationLaboratoryCode"))
      if (text(code) != c.lab_id)
        fail(code,
             "the DCC's laboratory code '" + text(code) + "' is not lab '" + c.lab_id +
                 "' of signing key '" + c.lab_key_id + "'",
             CertRefusal::kUntrustedLab);
  take(
      im, "lab_id", [&] { return std::string(c.lab_id); },
      child(admin, kDccNs, "calibrationLaboratory"));
  const std::string tail = sig.method.substr(sig.method.find('#') + 1);
  c.signature_alg = "XMLDSig-" + tail;
  c.signature = sig.value;

  // Dates and validity.
  const xmlNode* end = need(core, kDccNs, "endPerformanceDate");
  c.valid_from_ns = date_ns(end);
  take(
      im, "valid_from", [&] { return std::string(engine::format_rfc3339(c.valid_from_ns)); }, end);
  c.issue_date_ns = c.valid_from_ns;
  const xmlNode* issued = end;
  if (const xmlNode* isd = child(core, kDccNs, "issueDate")) {
    c.issue_date_ns = date_ns(isd);
    issued = isd;
  }
  take(
      im, "issue_date", [&] { return std::string(engine::format_rfc3339(c.issue_date_ns)); },
      issued);
  const xmlNode* statements = child(admin, kDccNs, "statements");
  const xmlNode* recal = nullptr;
  int conformity = -1;
  const xmlNode* conformity_node = nullptr;
  const xmlNode* range_statement = nullptr;
  for (const xmlNode* st : children(statements, kDccNs, "statement")) {
    if (has_ref(st, "basic_recalibration")) {
      if (recal != nullptr) fail(st, "two statements with refType basic_recalibration");
      recal = st;
    }
    if (has_ref(st, "basic_validityRange")) range_statement = st;
    if (const xmlNode* cf = child(st, kDccNs, "conformity")) {
      const int v = conformity_of(cf, text(cf));
      if (v > conformity) conformity = v, conformity_node = cf;
    }
  }
  if (recal == nullptr)
    fail(statements != nullptr ? statements : admin,
         "no statement with refType basic_recalibration: Assay needs the end of validity "
         "(its dcc:date or dcc:period)");
  if (const xmlNode* d = child(recal, kDccNs, "date")) {
    c.valid_until_ns = date_ns(d) + kDayNs - 1;  // through the end of that day
    take(
        im, "valid_until", [&] { return std::string(engine::format_rfc3339(c.valid_until_ns)); },
        d);
  } else if (const xmlNode* p = child(recal, kDccNs, "period")) {
    c.valid_until_ns = add_duration(p, c.valid_from_ns);
    take(
        im, "valid_until", [&] { return std::string(engine::format_rfc3339(c.valid_until_ns)); },
        p);
  } else {
    fail(recal, "the basic_recalibration statement has neither dcc:date nor dcc:period");
  }
  if (c.valid_until_ns < c.valid_from_ns)
    fail(recal, "the recalibration date is before dcc:endPerformanceDate");

  // The signature's time (XAdES signing time, else the issue date) within the key's windows.
  const int64_t signed_at = sig.signing_time_ns != 0 ? sig.signing_time_ns : c.issue_date_ns;
  const LabKey& k = *sig.key;
  if (signed_at < k.valid_from_ns || signed_at > k.valid_until_ns ||
      signed_at < k.x509_not_before_ns || signed_at > k.x509_not_after_ns)
    fail(root,
         std::string(sig.signing_time_ns != 0 ? "signed (XAdES SigningTime) at " : "issued at ") +
             engine::format_rfc3339(signed_at) + ", outside the validity of lab key '" + k.key_id +
             "' (trust list and X.509 certificate)",
         CertRefusal::kUntrustedLab);

  // The calibration table.
  const xmlNode* results = need(root, kDccNs, "measurementResults");
  std::vector<Table> tables;
  for (const xmlNode* mr : children(results, kDccNs, "measurementResult"))
    for (const xmlNode* rs : children(mr, kDccNs, "results"))
      for (const xmlNode* r : children(rs, kDccNs, "result"))
        if (const xmlNode* data = child(r, kDccNs, "data")) find_tables(data, tables);
  if (tables.empty())
    fail(results,
         "no calibration table: a dcc:result whose data has quantities with refType "
         "basic_referenceValue and basic_measuredValue or basic_measurementError");
  if (tables.size() > 1)
    fail(tables[1].container, "a second calibration table (the first is at " +
                                  node_path(tables[0].container) + "): Assay maps one");
  const Table& t = tables[0];
  const int present = (t.reference != nullptr) + (t.measured != nullptr) + (t.error != nullptr);
  if (present < 2)
    fail(t.container,
         "the table needs two of basic_referenceValue, basic_measuredValue, "
         "basic_measurementError");

  // The unit: the sensor's (identity registry), else the DCC's first.
  DsiUnit unit;
  if (info != nullptr && !info->unit.empty()) {
    unit = parse_ucum_unit(info->unit);
    if (unit.dimension < 0)
      fail(t.container,
           "the sensor's unit '" + info->unit + "' (identity registry) is not one Assay converts");
  }
  Series ref_s, meas_s, err_s;
  if (t.reference != nullptr) ref_s = quantity_values(t.reference, unit);
  if (t.measured != nullptr) meas_s = quantity_values(t.measured, unit);
  if (t.error != nullptr) err_s = quantity_values(t.error, unit);
  const size_t n = (t.reference != nullptr ? ref_s : meas_s).values.size();
  for (const Series* s : {&ref_s, &meas_s, &err_s})
    if (s->node != nullptr && s->values.size() != n)
      fail(s->node, "has " + std::to_string(s->values.size()) + " values; the table has " +
                        std::to_string(n) + " points");
  std::vector<double> x(n), r(n);
  const auto refv = t.reference != nullptr ? in_unit(ref_s, unit, false) : std::vector<double>();
  const auto measv = t.measured != nullptr ? in_unit(meas_s, unit, false) : std::vector<double>();
  const auto errv = t.error != nullptr ? in_unit(err_s, unit, true) : std::vector<double>();
  for (size_t i = 0; i < n; ++i) {
    x[i] = t.measured != nullptr ? measv[i] : refv[i] + errv[i];
    r[i] = t.reference != nullptr ? refv[i] : measv[i] - errv[i];
  }
  c.unit = unit.ucum;
  c.quantity = unit.quantity;
  if (info != nullptr && !info->quantity.empty()) c.quantity = info->quantity;
  take(
      im, "unit", [&] { return std::string(c.unit); },
      (t.reference != nullptr ? ref_s : meas_s).node);
  take(
      im, "quantity", [&] { return std::string(c.quantity); },
      (t.reference != nullptr ? ref_s : meas_s).node);
  if (t.reference != nullptr)
    take(
        im, "table.reference", [&] { return std::string(std::to_string(n) + " points"); },
        ref_s.node);
  if (t.measured != nullptr)
    take(
        im, "table.indicated", [&] { return std::string(std::to_string(n) + " points"); },
        meas_s.node);
  if (t.error != nullptr)
    take(
        im, "table.error", [&] { return std::string(std::to_string(n) + " points"); }, err_s.node);

  // The uncertainty: of the error, else of the indicated values.
  const Series* us = !err_s.unc.empty() ? &err_s : !meas_s.unc.empty() ? &meas_s : nullptr;
  if (us == nullptr)
    fail(t.error != nullptr ? t.error : t.container,
         "no uncertainty stated for basic_measurementError or basic_measuredValue");
  im.uncertainty_form = us->form;
  im.points.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const PointUnc& pu = us->unc[i];
    const double scale = us->units[i].factor / unit.factor;
    im.points[i] = {x[i], r[i], pu.u * scale, pu.k != 0 ? pu.k : 2.0, pu.p};
  }

  // The correction: least squares of r on x (offset for one point, a line for up to three,
  // a parabola from four points on).
  const int degree = n == 1 ? 0 : n <= 3 ? 1 : 2;
  std::vector<double> a;
  if (degree == 0) {
    a = {r[0] - x[0], 1.0};
    im.correction_method = "offset from one point";
  } else {
    a = fit(x, r, degree);
    if (a.empty()) fail(t.container, "the calibration points do not determine a correction");
    im.correction_method = std::string("least squares ") + (degree == 1 ? "line" : "parabola") +
                           " through " + std::to_string(n) + " points";
  }
  c.correction.offset = a[0];
  c.correction.gain = a[1];
  if (a.size() > 2) c.correction.poly = {a[2]};
  if (!std::isfinite(c.correction.gain) || c.correction.gain == 0 ||
      !std::isfinite(c.correction.offset) ||
      (!c.correction.poly.empty() && !std::isfinite(c.correction.poly[0])))
    fail(t.container, "the fitted correction is not usable (gain 0 or not finite)");
  double resid = 0;
  for (size_t i = 0; i < n; ++i) {
    double y = c.correction.offset + c.correction.gain * x[i];
    if (!c.correction.poly.empty()) y += c.correction.poly[0] * x[i] * x[i];
    resid = std::max(resid, std::fabs(r[i] - y));
  }
  if (degree == 0) resid = 0;
  im.fit_residual = resid;
  take(
      im, "correction",
      [&] {
        return std::string(
            "offset " + g(c.correction.offset) + ", gain " + g(c.correction.gain) +
            (c.correction.poly.empty() ? std::string() : ", x^2 " + g(c.correction.poly[0])));
      },
      t.container);

  // The expanded uncertainty: the largest standard uncertainty of the points, combined with
  // the fit's largest residual as a rectangular contribution, at that point's coverage.
  size_t worst = 0;
  for (size_t i = 1; i < n; ++i)
    if (im.points[i].standard_uncertainty > im.points[worst].standard_uncertainty) worst = i;
  const DccPoint& w = im.points[worst];
  const double u_fit = resid / std::sqrt(3.0);
  c.coverage_factor = w.coverage_factor;
  c.expanded_uncertainty = w.coverage_factor * std::hypot(w.standard_uncertainty, u_fit);
  im.coverage_probability = w.coverage_probability;
  if (!std::isfinite(c.expanded_uncertainty))
    fail(us->unc_node, "the expanded uncertainty is not finite");
  take(
      im, "expanded_uncertainty", [&] { return std::string(g(c.expanded_uncertainty)); },
      us->unc_node);
  take(
      im, "coverage_factor", [&] { return std::string(g(c.coverage_factor)); }, us->unc_node);
  take(
      im, "coverage_probability",
      [&] {
        return std::string(w.coverage_probability != 0 ? g(w.coverage_probability) : "not stated");
      },
      us->unc_node);

  // Measuring range: the validity range statement, else the reference values' span.
  if (range_statement != nullptr) {
    const xmlNode* data = need(range_statement, kDccNs, "data");
    const xmlNode *lo = nullptr, *hi = nullptr;
    for (const xmlNode* q : children(data, kDccNs, "quantity")) {
      if (has_ref(q, "basic_validityRangeMin")) lo = q;
      if (has_ref(q, "basic_validityRangeMax")) hi = q;
    }
    if (lo == nullptr || hi == nullptr)
      fail(data,
           "the validity range needs quantities basic_validityRangeMin and "
           "basic_validityRangeMax");
    DsiUnit u2 = unit;
    const Series ls = quantity_values(lo, u2), hs = quantity_values(hi, u2);
    c.range_min = in_unit(ls, unit, false).front();
    c.range_max = in_unit(hs, unit, false).front();
    take(
        im, "measuring_range",
        [&] { return std::string(g(c.range_min) + " .. " + g(c.range_max)); }, range_statement);
  } else {
    c.range_min = *std::min_element(r.begin(), r.end());
    c.range_max = *std::max_element(r.begin(), r.end());
    take(
        im, "measuring_range",
        [&] {
          return std::string(g(c.range_min) + " .. " + g(c.range_max) + " (calibration points)");
        },
        t.container);
  }
  if (c.range_min > c.range_max) fail(range_statement, "the range minimum is above its maximum");

  // Acceptance (tolerance) limits of the error -> MPE; conformity of the table.
  const xmlNode* limit_q = t.error != nullptr ? t.error : t.measured;
  double mpe = -1;
  const xmlNode* mpe_node = nullptr;
  if (limit_q != nullptr) {
    if (const xmlNode* md = child(limit_q, kDccNs, "measurementMetaData")) {
      for (const xmlNode* m : children(md, kDccNs, "metaData")) {
        for (const char* cn : {"conformity", "conformityXMLList"})
          if (const xmlNode* cf = child(m, kDccNs, cn))
            for (const auto& tok : tokens(text(cf))) {
              const int v = conformity_of(cf, tok);
              if (v > conformity) conformity = v, conformity_node = cf;
            }
        std::vector<const xmlNode*> qs;
        collect(m->children, kDccNs, "quantity", qs);
        for (const xmlNode* q : qs) {
          const bool lower =
              has_ref(q, "basic_acceptanceLimitLower") || has_ref(q, "basic_toleranceLimitLower");
          const bool upper =
              has_ref(q, "basic_acceptanceLimitUpper") || has_ref(q, "basic_toleranceLimitUpper");
          if (!lower && !upper) continue;
          DsiUnit u2 = unit;
          const Series ls = quantity_values(q, u2);
          for (double v : in_unit(ls, unit, true)) {
            const double m_abs = std::fabs(v);
            if (mpe < 0 || m_abs < mpe) mpe = m_abs, mpe_node = q;
          }
        }
      }
    }
  }
  if (mpe >= 0) {
    c.mpe_in_service = {mpe, 0};
    take(
        im, "mpe", [&] { return std::string(g(mpe) + " (smallest acceptance limit)"); }, mpe_node);
  } else {
    take(
        im, "mpe", [&] { return std::string("not stated (verdicts are indeterminate)"); }, nullptr);
  }
  c.mpe_initial = c.mpe_in_service;
  if (conformity >= 0) {
    c.conformity = kConformityNames[conformity];
    take(
        im, "conformity", [&] { return std::string(c.conformity); }, conformity_node);
  }
  return im;
}

// SAX hook: a DOCTYPE stops the parse before any declaration is read.
thread_local long t_doctype_line = 0;

void on_internal_subset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  t_doctype_line = ctxt->input != nullptr && ctxt->input->line > 0 ? ctxt->input->line : 1;
  xmlStopParser(ctxt);
}

struct DocFree {
  void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
};

}  // namespace

void dcc_init() {
  init_once();
}

bool looks_like_xml(std::string_view d) {
  if (d.starts_with("\xEF\xBB\xBF")) d.remove_prefix(3);
  for (char ch : d) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') continue;
    return ch == '<';
  }
  return false;
}

DccOutcome import_dcc(std::string_view xml, const std::string& where, const TrustList& trust,
                      const IdentityRegistry* identity, bool record_taken, DccVerifyMode mode) {
  init_once();
  t_record_taken = record_taken;
  DccOutcome out;
  auto refuse = [&](CertRefusal why, long line, const std::string& path, const std::string& msg,
                    std::string id, std::string sensor) {
    RefusedCertificate r;
    r.reason = why;
    r.certificate_id = std::move(id);
    r.sensor_id = std::move(sensor);
    r.message = where + (line > 0 ? ":" + std::to_string(line) : "") + ": " + path + ": " + msg;
    out.refused = std::move(r);
  };
  if (xml.size() > kDccMaxBytes) {
    refuse(CertRefusal::kInvalid, 0, "/",
           "document of " + std::to_string(xml.size()) + " bytes is larger than the limit of " +
               std::to_string(kDccMaxBytes) + " bytes; not parsed",
           "", "");
    return out;
  }
  // One parser context per thread, reused (its name dictionary too: a registry's DCCs share
  // their element names); renewed after a failed parse and every 10,000 documents.
  thread_local struct ThreadParser {
    xmlParserCtxtPtr ctxt = nullptr;
    size_t uses = 0;
    ~ThreadParser() { drop(); }
    void drop() {
      if (ctxt != nullptr) xmlFreeParserCtxt(ctxt);
      ctxt = nullptr;
    }
  } parser;
  if (parser.ctxt == nullptr || ++parser.uses > 10000) {
    parser.drop();
    parser.ctxt = xmlNewParserCtxt();
    parser.uses = 0;
    if (parser.ctxt == nullptr) {
      refuse(CertRefusal::kInvalid, 0, "/", "cannot create an XML parser", "", "");
      return out;
    }
    parser.ctxt->sax->internalSubset = on_internal_subset;
  }
  xmlParserCtxtPtr ctxt = parser.ctxt;
  t_doctype_line = 0;
  // No DTD loading, no entity substitution, no network, no XInclude; errors are reported here,
  // not printed. libxml2's own limits (depth, text node size without XML_PARSE_HUGE) apply.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_COMPACT;
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlCtxtReadMemory(ctxt, xml.data(), static_cast<int>(xml.size()), nullptr, nullptr, options));
  if (t_doctype_line != 0) {
    const long line = t_doctype_line;
    parser.drop();
    refuse(CertRefusal::kInvalid, line, "/",
           "a DOCTYPE is not allowed in a DCC (no DTD, no entity declarations: entity expansion "
           "and external entities are refused before they are read)",
           "", "");
    return out;
  }
  if (!doc || ctxt->wellFormed == 0) {
    const xmlError* e = xmlCtxtGetLastError(ctxt);
    std::string msg = e != nullptr && e->message != nullptr ? trim(e->message) : "not well-formed";
    const long line = e != nullptr ? e->line : 0;
    parser.drop();
    refuse(CertRefusal::kInvalid, line, "/", "malformed XML: " + msg, "", "");
    return out;
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  std::string id, sensor;
  DeferredCheck deferred;
  try {
    if (root == nullptr) fail(nullptr, "no root element");
    if (!is(root, kDccNs, "digitalCalibrationCertificate")) {
      const std::string ns =
          root->ns != nullptr ? reinterpret_cast<const char*>(root->ns->href) : "";
      fail(root, "the root element is {" + ns + "}" + reinterpret_cast<const char*>(root->name) +
                     ", not {https://ptb.de/dcc}digitalCalibrationCertificate");
    }
    // Best-effort ids for the alert even if the mapping fails.
    if (const xmlNode* a = child(root, kDccNs, "administrativeData")) {
      id = text(child(child(a, kDccNs, "coreData"), kDccNs, "uniqueIdentifier"));
    }
    out.import = map_dcc(doc.get(), root, trust, identity, deferred);
  } catch (const DccFail& f) {
    out.import.reset();
    refuse(f.reason, f.node != nullptr ? xmlGetLineNo(f.node) : 0, node_path(f.node), f.message, id,
           sensor);
  }
  if (deferred.set) {
    // What the outcome becomes if the SignatureValue does not verify.
    DccPendingSignature p;
    p.key = std::move(deferred.key);
    p.signed_info = std::move(deferred.message);
    p.signature = deferred.signature;
    p.refusal.reason = CertRefusal::kBadSignature;
    p.refusal.certificate_id = id;
    p.refusal.message = where + (deferred.line > 0 ? ":" + std::to_string(deferred.line) : "") +
                        ": " + deferred.path + ": " + deferred.why;
    out.pending = std::move(p);
    if (mode == DccVerifyMode::kNow) complete_dcc_signatures(std::span<DccOutcome>(&out, 1));
  }
  return out;
}

void complete_dcc_signatures(std::span<DccOutcome> outcomes) {
  std::vector<crypto::EcdsaJob> jobs;
  std::vector<size_t> which;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!outcomes[i].pending) continue;
    const DccPendingSignature& p = *outcomes[i].pending;
    const crypto::EcdsaPublicKey* key =
        p.key != nullptr && p.key->p256.has_value() ? &*p.key->p256 : nullptr;  // null: invalid
    jobs.push_back({key, p.signature.data(), p.signature.size(),
                    crypto::EcdsaSignatureFormat::kP1363,
                    reinterpret_cast<const uint8_t*>(p.signed_info.data()), p.signed_info.size(),
                    crypto::EcdsaHash::kSha256});
    which.push_back(i);
  }
  if (jobs.empty()) return;
  std::vector<uint8_t> verdicts(jobs.size(), 0);
  crypto::ecdsa_verify_batch(crypto::EcdsaCurve::kP256, jobs, verdicts);
  for (size_t j = 0; j < which.size(); ++j) {
    DccOutcome& o = outcomes[which[j]];
    if (verdicts[j] != 1) {
      o.import.reset();
      o.refused = std::move(o.pending->refusal);
    }
    o.pending.reset();
  }
}

std::optional<X509LabCertificate> parse_x509_lab_certificate(std::string_view data,
                                                             std::string& error) {
  init_once();
  X509* x = nullptr;
  BIO* bio = BIO_new_mem_buf(data.data(), static_cast<int>(data.size()));
  if (data.find("-----BEGIN") != std::string_view::npos) {
    x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    x = d2i_X509(nullptr, &p, static_cast<long>(data.size()));
  }
  BIO_free(bio);
  if (x == nullptr) {
    error = "not an X.509 certificate (PEM or DER)";
    return std::nullopt;
  }
  X509LabCertificate out;
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  if (len > 0) out.der.assign(der, der + len);
  OPENSSL_free(der);
  unsigned int fl = 0;
  EVP_Digest(out.der.data(), out.der.size(), out.sha256.data(), &fl, EVP_sha256(), nullptr);
  if (BIO* b = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    out.subject.assign(p, static_cast<size_t>(n));
    BIO_free(b);
  }
  auto to_ns = [](const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return int64_t{0};
    return (days_from_civil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                            static_cast<unsigned>(tm.tm_mday)) *
                86400 +
            tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec) *
           int64_t{1'000'000'000};
  };
  out.not_before_ns = to_ns(X509_get0_notBefore(x));
  out.not_after_ns = to_ns(X509_get0_notAfter(x));
  const int type = EVP_PKEY_base_id(X509_get0_pubkey(x));
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
    X509_free(x);
    error = "the certificate's key is neither RSA nor EC (XMLDSig rsa-sha* / ecdsa-sha*)";
    return std::nullopt;
  }
  auto key = std::make_shared<DccVerifyKey>();
  if (type == EVP_PKEY_EC) {
    // Its P-256 key for Assay's verifier (another curve: xmlsec verifies with OpenSSL).
    std::vector<uint8_t> spki;
    if (EVP_PKEY* pk = X509_get_pubkey(x)) {
      unsigned char* d = nullptr;
      const int n = i2d_PUBKEY(pk, &d);
      if (n > 0) spki.assign(d, d + n);
      OPENSSL_free(d);
      EVP_PKEY_free(pk);
    }
    crypto::EcdsaKeyParse parsed = crypto::EcdsaPublicKey::parse(crypto::EcdsaCurve::kP256, spki);
    if (parsed) key->p256 = std::move(parsed.key);
  }
  X509_free(x);
  key->key = xmlSecCryptoAppKeyLoadMemory(out.der.data(), static_cast<xmlSecSize>(out.der.size()),
                                          xmlSecKeyDataFormatCertDer, nullptr, nullptr, nullptr);
  if (key->key == nullptr) {
    error = "xmlsec cannot load the certificate's key";
    return std::nullopt;
  }
  out.key = std::move(key);
  return out;
}

}  // namespace assay::registries
