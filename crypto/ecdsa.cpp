// ECDSA on P-256, P-384, brainpoolP256r1, brainpoolP384r1: key parsing, strict DER, the OpenSSL
// reference path, and batch dispatch to the point engines (crypto/ec_engine.hpp); P-256 goes to
// the P-256 machinery (crypto/ecdsa_p256.hpp). Uses only non-deprecated OpenSSL 3.0 APIs.
#include "crypto/ecdsa.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "crypto/ec_engine.hpp"
#include "crypto/ecdsa_internal.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "crypto/sha256_many.hpp"

namespace assay::crypto {

struct EcdsaPublicKey::Impl {
  EcdsaCurve curve = EcdsaCurve::kP256;
  std::vector<uint8_t> raw;  // uncompressed SEC1
  EVP_PKEY* pkey = nullptr;  // the reference path's key (curves other than P-256)
  uint64_t qx[detail::kEcMaxL] = {};
  uint64_t qy[detail::kEcMaxL] = {};
  std::optional<EcdsaP256PublicKey> p256;
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { EVP_PKEY_free(pkey); }
};

struct EcdsaKeyAccess {
  static EcdsaPublicKey make(std::shared_ptr<const EcdsaPublicKey::Impl> impl) {
    return EcdsaPublicKey(std::move(impl));
  }
};

namespace {

constexpr size_t kMaxKeyBytes = 16384;

struct CurveInfo {
  EcdsaCurve curve;
  int nid;
  const char* group_name;  // OpenSSL's name
  size_t field_bytes;
  const char* md;
};

constexpr CurveInfo kCurves[] = {
    {EcdsaCurve::kP256, NID_X9_62_prime256v1, "prime256v1", 32, "SHA256"},
    {EcdsaCurve::kP384, NID_secp384r1, "secp384r1", 48, "SHA384"},
    {EcdsaCurve::kBrainpoolP256r1, NID_brainpoolP256r1, "brainpoolP256r1", 32, "SHA256"},
    {EcdsaCurve::kBrainpoolP384r1, NID_brainpoolP384r1, "brainpoolP384r1", 48, "SHA384"},
};

const CurveInfo& info(EcdsaCurve c) {
  return kCurves[static_cast<size_t>(c)];
}

bool valid_curve(EcdsaCurve c) {
  return static_cast<size_t>(c) < std::size(kCurves);
}

const EC_GROUP* group_of(EcdsaCurve c) {
  static const std::array<EC_GROUP*, 4> groups = [] {
    std::array<EC_GROUP*, 4> g{};
    for (size_t i = 0; i < g.size(); ++i) g[i] = EC_GROUP_new_by_curve_name(kCurves[i].nid);
    return g;
  }();
  return groups[static_cast<size_t>(c)];
}

const EVP_MD* md_of(EcdsaCurve c) {
  static const std::array<EVP_MD*, 4> mds = [] {
    std::array<EVP_MD*, 4> m{};
    for (size_t i = 0; i < m.size(); ++i) m[i] = EVP_MD_fetch(nullptr, kCurves[i].md, nullptr);
    return m;
  }();
  return mds[static_cast<size_t>(c)];
}

// Digest bytes of a job's hash on `curve`: 32 or 48, or 0 if the pair is not supported.
size_t digest_bytes_of(EcdsaHash h, EcdsaCurve c) {
  const size_t fb = info(c).field_bytes;
  switch (h) {
    case EcdsaHash::kCurve:
      return fb;
    case EcdsaHash::kSha256:
      return 32;
    case EcdsaHash::kSha384:
      return fb == 48 ? 48 : 0;
  }
  return 0;
}

const EVP_MD* md_of_job(EcdsaHash h, EcdsaCurve c) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  if (h == EcdsaHash::kCurve) return md_of(c);
  return digest_bytes_of(h, c) == 32 ? sha256 : sha384;
}

// The group order, big-endian (field_bytes bytes).
const uint8_t* order_be(EcdsaCurve c) {
  static const std::array<std::array<uint8_t, 48>, 4> orders = [] {
    std::array<std::array<uint8_t, 48>, 4> o{};
    for (size_t i = 0; i < o.size(); ++i) {
      const EC_GROUP* g = EC_GROUP_new_by_curve_name(kCurves[i].nid);
      if (g != nullptr) {
        BN_bn2binpad(EC_GROUP_get0_order(g), o[i].data(), static_cast<int>(kCurves[i].field_bytes));
      }
      EC_GROUP_free(const_cast<EC_GROUP*>(g));
    }
    return o;
  }();
  return orders[static_cast<size_t>(c)].data();
}

bool curve_from_group_name(std::string_view g, EcdsaCurve& out) {
  if (g == "prime256v1" || g == "P-256" || g == "secp256r1") {
    out = EcdsaCurve::kP256;
  } else if (g == "secp384r1" || g == "P-384") {
    out = EcdsaCurve::kP384;
  } else if (g == "brainpoolP256r1") {
    out = EcdsaCurve::kBrainpoolP256r1;
  } else if (g == "brainpoolP384r1") {
    out = EcdsaCurve::kBrainpoolP384r1;
  } else {
    return false;
  }
  return true;
}

// SEC1 shapes: 04||X||Y or 02/03||X with X, Y of fb bytes.
bool sec1_shape(std::span<const uint8_t> b, size_t fb) {
  return (b.size() == 1 + 2 * fb && b[0] == 0x04) ||
         (b.size() == 1 + fb && (b[0] == 0x02 || b[0] == 0x03));
}

// Validates a SEC1 point of `curve` and writes its uncompressed encoding.
bool normalize_point(EcdsaCurve curve, std::span<const uint8_t> b, std::vector<uint8_t>& out) {
  const EC_GROUP* g = group_of(curve);
  if (g == nullptr || !sec1_shape(b, info(curve).field_bytes)) return false;
  EC_POINT* pt = EC_POINT_new(g);
  if (pt == nullptr) return false;
  out.assign(1 + 2 * info(curve).field_bytes, 0);
  const bool ok =
      EC_POINT_oct2point(g, pt, b.data(), b.size(), nullptr) == 1 &&
      EC_POINT_is_at_infinity(g, pt) == 0 && EC_POINT_is_on_curve(g, pt, nullptr) == 1 &&
      EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), nullptr) ==
          out.size();
  EC_POINT_free(pt);
  return ok;
}

EVP_PKEY* pkey_from_uncompressed(EcdsaCurve curve, const std::vector<uint8_t>& raw) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info(curve).group_name, 0) ==
          1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
      (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

// A decoded SubjectPublicKeyInfo: its curve and uncompressed point, or why not.
EcdsaKeyError from_spki_pkey(EVP_PKEY* pk, EcdsaCurve& curve, std::vector<uint8_t>& raw) {
  if (pk == nullptr) return EcdsaKeyError::kUnrecognized;
  if (EVP_PKEY_is_a(pk, "EC") != 1) return EcdsaKeyError::kUnsupportedKey;
  // Explicit curve parameters are refused even where they spell out a named curve.
  char enc[32] = {};
  size_t elen = 0;
  if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof enc, &elen) ==
          1 &&
      std::string_view(enc, elen) != OSSL_PKEY_EC_ENCODING_GROUP) {
    return EcdsaKeyError::kUnsupportedKey;
  }
  char group[64] = {};
  size_t glen = 0;
  if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) !=
          1 ||
      !curve_from_group_name(std::string_view(group, glen), curve)) {
    return EcdsaKeyError::kUnsupportedKey;  // explicit parameters or another curve
  }
  uint8_t pub[200];
  size_t plen = 0;
  if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                      &plen) != 1 ||
      !normalize_point(curve, std::span<const uint8_t>(pub, plen), raw)) {
    return EcdsaKeyError::kBadPoint;
  }
  return EcdsaKeyError::kNone;
}

EcdsaKeyError decode_spki_der(std::span<const uint8_t> b, EcdsaCurve& curve,
                              std::vector<uint8_t>& raw) {
  const uint8_t* p = b.data();
  EVP_PKEY* pk = d2i_PUBKEY(nullptr, &p, static_cast<long>(b.size()));
  EcdsaKeyError e = EcdsaKeyError::kUnrecognized;
  if (pk != nullptr && p == b.data() + b.size()) e = from_spki_pkey(pk, curve, raw);
  EVP_PKEY_free(pk);
  ERR_clear_error();
  return e;
}

EcdsaKeyError decode_spki_pem(std::span<const uint8_t> b, EcdsaCurve& curve,
                              std::vector<uint8_t>& raw) {
  BIO* bio = BIO_new_mem_buf(b.data(), static_cast<int>(b.size()));
  EVP_PKEY* pk = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  const EcdsaKeyError e = from_spki_pkey(pk, curve, raw);
  EVP_PKEY_free(pk);
  ERR_clear_error();
  return e;
}

bool is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex text (surrounding whitespace allowed) -> bytes; false if not hex.
bool hex_decode(std::span<const uint8_t> b, std::vector<uint8_t>& out) {
  size_t s = 0, e = b.size();
  while (s < e && is_space(b[s])) ++s;
  while (e > s && is_space(b[e - 1])) --e;
  if (s == e || (e - s) % 2 != 0) return false;
  out.resize((e - s) / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(b[s + 2 * i]), lo = hex_value(b[s + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

bool looks_like_pem(std::span<const uint8_t> b) {
  const std::string_view t(reinterpret_cast<const char*>(b.data()), b.size());
  return t.find("-----BEGIN") != std::string_view::npos;
}

// Decodes any supported encoding. `want` (if set) is the expected curve of a SEC1 point.
EcdsaKeyError decode_any(std::span<const uint8_t> b, const EcdsaCurve* want, bool spki_only,
                         EcdsaCurve& curve, std::vector<uint8_t>& raw, int depth = 0) {
  if (b.empty()) return EcdsaKeyError::kEmpty;
  if (b.size() > kMaxKeyBytes) return EcdsaKeyError::kTooLong;
  if (!spki_only && want != nullptr && sec1_shape(b, info(*want).field_bytes)) {
    curve = *want;
    return normalize_point(*want, b, raw) ? EcdsaKeyError::kNone : EcdsaKeyError::kBadPoint;
  }
  if (looks_like_pem(b)) return decode_spki_pem(b, curve, raw);
  if (b[0] == 0x30) {
    const EcdsaKeyError e = decode_spki_der(b, curve, raw);
    if (e != EcdsaKeyError::kUnrecognized) return e;
  }
  std::vector<uint8_t> bytes;
  if (depth == 0 && hex_decode(b, bytes)) {
    return decode_any(bytes, want, spki_only, curve, raw, depth + 1);
  }
  if (!spki_only && want != nullptr) {
    for (const CurveInfo& ci : kCurves) {
      if (ci.field_bytes != info(*want).field_bytes && sec1_shape(b, ci.field_bytes))
        return EcdsaKeyError::kWrongCurve;
    }
  }
  return EcdsaKeyError::kUnrecognized;
}

EcdsaKeyParse make_key(EcdsaCurve curve, std::vector<uint8_t> raw) {
  auto impl = std::make_shared<EcdsaPublicKey::Impl>();
  impl->curve = curve;
  impl->raw = std::move(raw);
  const size_t fb = info(curve).field_bytes;
  const int limbs = static_cast<int>(fb / 8);
  detail::ec_load_be(impl->qx, limbs, impl->raw.data() + 1);
  detail::ec_load_be(impl->qy, limbs, impl->raw.data() + 1 + fb);
  if (curve == EcdsaCurve::kP256) {
    impl->p256 = EcdsaP256PublicKey::parse(impl->raw);
    if (!impl->p256) return EcdsaKeyParse{std::nullopt, EcdsaKeyError::kBadPoint};
  } else {
    impl->pkey = pkey_from_uncompressed(curve, impl->raw);
    if (impl->pkey == nullptr) {
      ERR_clear_error();
      return EcdsaKeyParse{std::nullopt, EcdsaKeyError::kBadPoint};
    }
  }
  return EcdsaKeyParse{EcdsaKeyAccess::make(std::move(impl)), EcdsaKeyError::kNone};
}

// ---- signatures ----------------------------------------------------------------------------

// r‖s (2·fb bytes) of a job; false if the encoding is wrong.
bool signature_rs(const EcdsaJob& j, size_t fb, uint8_t* rs) {
  if (j.signature == nullptr) return false;
  const std::span<const uint8_t> sig(j.signature, j.signature_len);
  if (j.format == EcdsaSignatureFormat::kP1363) {
    if (sig.size() != 2 * fb) return false;
    std::memcpy(rs, sig.data(), 2 * fb);
    return true;
  }
  if (j.format == EcdsaSignatureFormat::kDer) return ecdsa_der_to_rs(sig, fb, rs);
  return false;
}

// 1 <= x < n for a big-endian scalar of fb bytes.
bool in_range(const uint8_t* x, EcdsaCurve c) {
  const size_t fb = info(c).field_bytes;
  bool nonzero = false;
  for (size_t i = 0; i < fb; ++i) nonzero |= x[i] != 0;
  return nonzero && std::memcmp(x, order_be(c), fb) < 0;
}

bool job_usable(const EcdsaJob& j, EcdsaCurve curve) {
  return j.key != nullptr && j.key->curve() == curve &&
         (j.message != nullptr || j.message_len == 0) && digest_bytes_of(j.hash, curve) != 0;
}

const uint8_t kEmpty[1] = {0};

// The reference: OpenSSL EVP_DigestVerify over the message with the DER encoding of (r, s),
// after Assay's own checks (strict encoding, 1 <= r, s < n).
bool verify_reference(const EcdsaJob& j, EcdsaCurve curve) {
  if (!job_usable(j, curve)) return false;
  if (curve == EcdsaCurve::kP256) {
    uint8_t rs[64];
    if (!signature_rs(j, 32, rs)) return false;
    return ecdsa_p256_verify({j.key->p256(), rs, 64, j.message, j.message_len}, Backend::kOpenSSL);
  }
  const size_t fb = info(curve).field_bytes;
  uint8_t rs[96];
  if (!signature_rs(j, fb, rs) || !in_range(rs, curve) || !in_range(rs + fb, curve)) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(rs, static_cast<int>(fb), nullptr);
  BIGNUM* s = BN_bin2bn(rs + fb, static_cast<int>(fb), nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  uint8_t der[128];
  uint8_t* p = der;
  const int der_len =
      i2d_ECDSA_SIG(sig, nullptr) <= static_cast<int>(sizeof der) ? i2d_ECDSA_SIG(sig, &p) : -1;
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr &&
                  EVP_DigestVerifyInit(ctx, nullptr, md_of_job(j.hash, curve), nullptr,
                                       j.key->impl().pkey) == 1 &&
                  EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                                   j.message != nullptr ? j.message : kEmpty, j.message_len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

constexpr size_t kChunk = 128;

// P-256 through the generic API: the P-256 machinery with P1363 signatures.
void verify_p256(std::span<const EcdsaJob> jobs, uint8_t* verdicts, Backend b) {
  EcdsaP256Job pj[kChunk];
  uint8_t rs[kChunk][64];
  size_t index[kChunk];
  uint8_t out[kChunk];
  for (size_t base = 0; base < jobs.size(); base += kChunk) {
    const size_t end = std::min(jobs.size(), base + kChunk);
    size_t m = 0;
    for (size_t i = base; i < end; ++i) {
      const EcdsaJob& j = jobs[i];
      verdicts[i] = 0;
      // P-256 hashes with SHA-256 only (job_usable refuses SHA-384 on a 256-bit curve).
      if (!job_usable(j, EcdsaCurve::kP256) || !signature_rs(j, 32, rs[m])) continue;
      pj[m] = {j.key->p256(), rs[m], 64, j.message, j.message_len};
      index[m++] = i;
    }
    ecdsa_p256_verify_batch(std::span<const EcdsaP256Job>(pj, m), std::span<uint8_t>(out, m), b);
    for (size_t k = 0; k < m; ++k) verdicts[index[k]] = out[k];
  }
}

// The other curves: the point engines, exceptional cases to the reference.
void verify_engine(EcdsaCurve curve, std::span<const EcdsaJob> jobs, uint8_t* verdicts,
                   bool avx512) {
  const detail::EcCurveParams& cp = detail::ec_curve_params(static_cast<detail::EcCurveId>(curve));
  const size_t fb = info(curve).field_bytes;
  detail::EcPointJob pj[kChunk];
  detail::EcScalarInput in[kChunk];
  uint8_t rs[kChunk][96];
  uint8_t digests[kChunk][48];
  const uint8_t* msgs[kChunk];
  size_t lens[kChunk];
  size_t index[kChunk];
  uint8_t out[kChunk];
  for (size_t base = 0; base < jobs.size(); base += kChunk) {
    const size_t end = std::min(jobs.size(), base + kChunk);
    size_t m = 0;
    for (size_t i = base; i < end; ++i) {
      const EcdsaJob& j = jobs[i];
      verdicts[i] = 0;
      if (!job_usable(j, curve) || !signature_rs(j, fb, rs[m]) || !in_range(rs[m], curve) ||
          !in_range(rs[m] + fb, curve)) {
        continue;
      }
      msgs[m] = j.message;
      lens[m] = j.message_len;
      pj[m].qx = j.key->impl().qx;
      pj[m].qy = j.key->impl().qy;
      pj[m].qcomb = nullptr;
      index[m++] = i;
    }
    if (m == 0) continue;
    // Digests: jobs with the curve's hash length in one run, SHA-256 on a 384-bit curve
    // (OCMF) in another. A digest no longer than the order is e itself (left-padded).
    uint8_t flat[kChunk * 48];
    const uint8_t* sub_msgs[kChunk];
    size_t sub_lens[kChunk], sub_at[kChunk];
    for (size_t pass = 0; pass < 2; ++pass) {
      const size_t db = pass == 0 ? fb : 32;
      if (pass == 1 && db == fb) break;
      size_t q = 0;
      for (size_t k = 0; k < m; ++k) {
        if (digest_bytes_of(jobs[index[k]].hash, curve) != db) continue;
        sub_msgs[q] = msgs[k];
        sub_lens[q] = lens[k];
        sub_at[q++] = k;
      }
      if (q == 0) continue;
      detail::ecdsa_hash_messages(db, sub_msgs, sub_lens, q, flat);
      for (size_t t = 0; t < q; ++t) {
        uint8_t* d = digests[sub_at[t]];
        std::memset(d, 0, fb - db);
        std::memcpy(d + (fb - db), flat + t * db, db);
      }
    }
    for (size_t k = 0; k < m; ++k) in[k] = {rs[k], rs[k] + fb, digests[k]};
    detail::ec_prepare(cp, in, m, pj);
    if (avx512) {
      detail::ec_verify_avx512(cp, pj, m, out);
    } else {
      detail::ec_verify_portable(cp, pj, m, out);
    }
    detail::EcCounters& ctr = detail::ec_thread_counters();
    for (size_t k = 0; k < m; ++k) {
      ++(out[k] == detail::kEcExact ? ctr.exact : ctr.engine);
      verdicts[index[k]] =
          out[k] == detail::kEcExact ? (verify_reference(jobs[index[k]], curve) ? 1 : 0) : out[k];
    }
  }
}

}  // namespace

namespace detail {

void ecdsa_hash_messages(size_t digest_bytes, const uint8_t* const* messages, const size_t* lens,
                         size_t n, uint8_t* out) {
  if (digest_bytes == 32 && n >= 16) {
    std::span<const uint8_t> spans[kChunk];
    std::array<uint8_t, 32> d[kChunk];
    for (size_t base = 0; base < n; base += kChunk) {
      const size_t m = std::min(kChunk, n - base);
      for (size_t i = 0; i < m; ++i) {
        spans[i] = std::span<const uint8_t>(
            messages[base + i] != nullptr ? messages[base + i] : kEmpty, lens[base + i]);
      }
      sha256_many(std::span<const std::span<const uint8_t>>(spans, m),
                  std::span<std::array<uint8_t, 32>>(d, m));
      for (size_t i = 0; i < m; ++i) std::memcpy(out + (base + i) * 32, d[i].data(), 32);
    }
    return;
  }
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  const EVP_MD* md = digest_bytes == 32 ? sha256 : sha384;
  for (size_t i = 0; i < n; ++i) {
    unsigned len = 0;
    const uint8_t* msg = messages[i] != nullptr ? messages[i] : kEmpty;
    if (!ctx || md == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), msg, lens[i]) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out + i * digest_bytes, &len) != 1) {
      // Cannot happen with OpenSSL's default provider; fall back to the one-shot API.
      EVP_Digest(msg, lens[i], out + i * digest_bytes, &len,
                 digest_bytes == 32 ? EVP_sha256() : EVP_sha384(), nullptr);
    }
  }
}

}  // namespace detail

std::string_view ecdsa_curve_name(EcdsaCurve curve) {
  switch (curve) {
    case EcdsaCurve::kP256:
      return "P-256";
    case EcdsaCurve::kP384:
      return "P-384";
    case EcdsaCurve::kBrainpoolP256r1:
      return "brainpoolP256r1";
    case EcdsaCurve::kBrainpoolP384r1:
      return "brainpoolP384r1";
  }
  return "unknown";
}

bool parse_ecdsa_curve(std::string_view name, EcdsaCurve& out) {
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (lower == "p-256" || lower == "secp256r1" || lower == "prime256v1") {
    out = EcdsaCurve::kP256;
  } else if (lower == "p-384" || lower == "secp384r1") {
    out = EcdsaCurve::kP384;
  } else if (lower == "brainpoolp256r1") {
    out = EcdsaCurve::kBrainpoolP256r1;
  } else if (lower == "brainpoolp384r1") {
    out = EcdsaCurve::kBrainpoolP384r1;
  } else {
    return false;
  }
  return true;
}

size_t ecdsa_field_bytes(EcdsaCurve curve) {
  return valid_curve(curve) ? info(curve).field_bytes : 0;
}

std::string_view ecdsa_key_error_text(EcdsaKeyError e) {
  switch (e) {
    case EcdsaKeyError::kNone:
      return "ok";
    case EcdsaKeyError::kEmpty:
      return "empty key";
    case EcdsaKeyError::kTooLong:
      return "key longer than 16 KiB";
    case EcdsaKeyError::kUnrecognized:
      return "not a SEC1 point, a SubjectPublicKeyInfo (DER or PEM) or hex of one";
    case EcdsaKeyError::kBadPoint:
      return "not a point of the curve";
    case EcdsaKeyError::kWrongCurve:
      return "a key of another curve";
    case EcdsaKeyError::kUnsupportedKey:
      return "not a named-curve EC key on P-256, P-384, brainpoolP256r1 or brainpoolP384r1";
  }
  return "unknown";
}

EcdsaKeyParse EcdsaPublicKey::parse(EcdsaCurve curve, std::span<const uint8_t> bytes) {
  if (!valid_curve(curve) || group_of(curve) == nullptr) {
    return EcdsaKeyParse{std::nullopt, EcdsaKeyError::kUnsupportedKey};
  }
  EcdsaCurve got = curve;
  std::vector<uint8_t> raw;
  const EcdsaKeyError e = decode_any(bytes, &curve, false, got, raw);
  if (e != EcdsaKeyError::kNone) return EcdsaKeyParse{std::nullopt, e};
  if (got != curve) return EcdsaKeyParse{std::nullopt, EcdsaKeyError::kWrongCurve};
  return make_key(curve, std::move(raw));
}

EcdsaKeyParse EcdsaPublicKey::parse(EcdsaCurve curve, std::string_view text) {
  return parse(
      curve, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

EcdsaKeyParse EcdsaPublicKey::parse_spki(std::span<const uint8_t> bytes) {
  EcdsaCurve got = EcdsaCurve::kP256;
  std::vector<uint8_t> raw;
  const EcdsaKeyError e = decode_any(bytes, nullptr, true, got, raw);
  if (e != EcdsaKeyError::kNone) return EcdsaKeyParse{std::nullopt, e};
  return make_key(got, std::move(raw));
}

EcdsaCurve EcdsaPublicKey::curve() const {
  return impl_->curve;
}

std::span<const uint8_t> EcdsaPublicKey::uncompressed() const {
  return impl_->raw;
}

const EcdsaP256PublicKey* EcdsaPublicKey::p256() const {
  return impl_->p256 ? &*impl_->p256 : nullptr;
}

bool ecdsa_verify(const EcdsaJob& job, Backend backend) {
  if (job.key == nullptr) return false;
  uint8_t v = 0;
  ecdsa_verify_batch(job.key->curve(), std::span<const EcdsaJob>(&job, 1),
                     std::span<uint8_t>(&v, 1), backend);
  return v != 0;
}

void ecdsa_verify_batch(EcdsaCurve curve, std::span<const EcdsaJob> jobs,
                        std::span<uint8_t> verdicts, Backend backend) {
  const size_t n = std::min(jobs.size(), verdicts.size());
  for (size_t i = 0; i < verdicts.size(); ++i) verdicts[i] = 0;
  if (!valid_curve(curve) || n == 0) return;
  if (!backend_supported(backend)) backend = Backend::kAuto;
  if (curve == EcdsaCurve::kP256) {
    verify_p256(jobs.first(n), verdicts.data(), backend);
    return;
  }
  if (backend == Backend::kOpenSSL) {
    for (size_t i = 0; i < n; ++i) verdicts[i] = verify_reference(jobs[i], curve) ? 1 : 0;
    return;
  }
  const bool avx512 = (backend == Backend::kAuto || backend == Backend::kAvx512) &&
                      backend_supported(Backend::kAvx512);
  verify_engine(curve, jobs.first(n), verdicts.data(), avx512);
}

bool ecdsa_der_to_rs(std::span<const uint8_t> der, size_t field_bytes, uint8_t* out) {
  if (field_bytes != 32 && field_bytes != 48) return false;
  const uint8_t* p = der.data();
  const size_t len = der.size();
  // SEQUENCE with a short-form length (the content is at most 2·(2 + 49) = 102 bytes, so DER
  // never needs the long form) covering exactly the rest of the input.
  if (len < 2 || p[0] != 0x30 || (p[1] & 0x80) != 0 || p[1] != len - 2) return false;
  size_t pos = 2;
  for (int k = 0; k < 2; ++k) {
    if (pos + 2 > len || p[pos] != 0x02 || (p[pos + 1] & 0x80) != 0) return false;
    size_t ilen = p[pos + 1];
    pos += 2;
    if (ilen == 0 || pos + ilen > len) return false;
    const uint8_t* v = p + pos;
    if ((v[0] & 0x80) != 0) return false;                              // negative
    if (ilen > 1 && v[0] == 0x00 && (v[1] & 0x80) == 0) return false;  // non-minimal
    pos += ilen;
    if (v[0] == 0x00 && ilen > 1) {
      ++v;
      --ilen;
    }
    if (ilen > field_bytes) return false;
    uint8_t* dst = out + field_bytes * static_cast<size_t>(k);
    std::memset(dst, 0, field_bytes);
    std::memcpy(dst + (field_bytes - ilen), v, ilen);
  }
  return pos == len;
}

}  // namespace assay::crypto
