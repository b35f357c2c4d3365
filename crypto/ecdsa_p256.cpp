// ECDSA P-256/SHA-256: key parsing, OpenSSL reference verification, strict DER conversion,
// key generation / signing, and dispatch to the fast batch path (ecdsa_p256_fast.cpp).
// Uses only non-deprecated OpenSSL 3.0 APIs (EVP_PKEY, EC_POINT octet conversion).
#include "crypto/ecdsa_p256.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "crypto/ec_engine.hpp"
#include "crypto/ecdsa.hpp"
#include "crypto/ecdsa_internal.hpp"
#include "crypto/ecdsa_p256_internal.hpp"

namespace assay::crypto {

struct EcdsaP256PublicKey::Impl {
  EVP_PKEY* pkey = nullptr;
  std::array<uint8_t, 65> raw{};
  detail::P256KeyState fast;
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { EVP_PKEY_free(pkey); }
};

namespace {

// Group order n, big-endian.
constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

const EC_GROUP* p256_group() {
  static const EC_GROUP* g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return g;
}

// Validates a SEC1 point (compressed or uncompressed) and writes its uncompressed encoding.
bool normalize_point(const uint8_t* p, size_t len, std::array<uint8_t, 65>& out) {
  const EC_GROUP* g = p256_group();
  if (g == nullptr) return false;
  if (!((len == 65 && p[0] == 0x04) || (len == 33 && (p[0] == 0x02 || p[0] == 0x03)))) {
    return false;
  }
  EC_POINT* pt = EC_POINT_new(g);
  if (pt == nullptr) return false;
  bool ok = EC_POINT_oct2point(g, pt, p, len, nullptr) == 1 &&
            EC_POINT_is_at_infinity(g, pt) == 0 && EC_POINT_is_on_curve(g, pt, nullptr) == 1 &&
            EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(),
                               nullptr) == 65;
  EC_POINT_free(pt);
  return ok;
}

EVP_PKEY* pkey_from_uncompressed(const std::array<uint8_t, 65>& raw) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()) ==
          1 &&
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

// Extracts the uncompressed point of a decoded P-256 EVP_PKEY; false for other key types.
bool raw_from_pkey(EVP_PKEY* pkey, std::array<uint8_t, 65>& raw) {
  if (pkey == nullptr || EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  // Explicit curve parameters are refused even where they spell out P-256.
  char enc[32] = {};
  size_t elen = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof enc, &elen) ==
          1 &&
      std::string_view(enc, elen) != OSSL_PKEY_EC_ENCODING_GROUP) {
    return false;
  }
  char group[64] = {};
  size_t glen = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &glen) != 1) {
    return false;
  }
  const std::string_view gname(group, glen);
  if (gname != "prime256v1" && gname != "P-256" && gname != "secp256r1") return false;
  uint8_t pub[133];
  size_t plen = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                      &plen) != 1) {
    return false;
  }
  return normalize_point(pub, plen, raw);
}

bool scalar_in_range(const uint8_t* b) {
  bool nonzero = false;
  for (int i = 0; i < 32; ++i) nonzero |= b[i] != 0;
  if (!nonzero) return false;
  return std::memcmp(b, kOrder, 32) < 0;  // big-endian compare: b < n
}

bool job_well_formed(const EcdsaP256Job& j) {
  return j.key != nullptr && j.signature != nullptr && j.signature_len == 64 &&
         (j.message != nullptr || j.message_len == 0) && scalar_in_range(j.signature) &&
         scalar_in_range(j.signature + 32);
}

const uint8_t kEmpty[1] = {0};

void digest(const EcdsaP256Job& j, uint8_t out[32]) {
  SHA256(j.message != nullptr ? j.message : kEmpty, j.message_len, out);
}

// OpenSSL reference: EVP_PKEY_verify over the SHA-256 digest with a DER signature.
bool verify_openssl(const EcdsaP256Job& j) {
  if (!job_well_formed(j)) return false;
  uint8_t md[32];
  digest(j, md);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(j.signature, 32, nullptr);
  BIGNUM* s = BN_bin2bn(j.signature + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  uint8_t der[80];
  uint8_t* p = der;
  const int der_len = i2d_ECDSA_SIG(sig, nullptr) <= static_cast<int>(sizeof der)
                          ? i2d_ECDSA_SIG(sig, &p)
                          : -1;
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return false;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, j.key->impl().pkey, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_verify_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_verify(ctx, der, static_cast<size_t>(der_len), md, sizeof md) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) ERR_clear_error();  // a bad signature is a verdict, not an error to leave queued
  return ok;
}

constexpr size_t kChunk = 128;

// The multi-buffer engine (AVX-512 IFMA, 8 lanes): every key, with its comb table where it has
// one (hot) and with doublings where not (cold).
void verify_engine(std::span<const EcdsaP256Job> jobs, uint8_t* verdicts) {
  const detail::EcCurveParams& cp = detail::ec_curve_params(detail::EcCurveId::kP256);
  detail::EcPointJob pj[kChunk];
  detail::EcScalarInput in[kChunk];
  uint8_t digests[kChunk][32];
  const uint8_t* msgs[kChunk];
  size_t lens[kChunk];
  size_t index[kChunk];
  uint8_t out[kChunk];
  for (size_t base = 0; base < jobs.size(); base += kChunk) {
    const size_t end = std::min(jobs.size(), base + kChunk);
    size_t m = 0;
    for (size_t i = base; i < end; ++i) {
      const EcdsaP256Job& j = jobs[i];
      verdicts[i] = 0;
      if (!job_well_formed(j)) continue;
      const detail::P256KeyState& st = j.key->impl().fast;
      pj[m].qx = st.qx_plain;
      pj[m].qy = st.qy_plain;
      pj[m].qcomb = detail::p256_key_comb(st);
      msgs[m] = j.message;
      lens[m] = j.message_len;
      index[m++] = i;
    }
    if (m == 0) continue;
    detail::ecdsa_hash_messages(32, msgs, lens, m, &digests[0][0]);
    for (size_t k = 0; k < m; ++k) {
      const EcdsaP256Job& j = jobs[index[k]];
      in[k] = {j.signature, j.signature + 32, digests[k]};
    }
    // A vector group costs about what 8 lanes cost: a lone cold signature is cheaper with
    // OpenSSL, one or two hot ones with the portable comb code (same tables).
    size_t cold = 0, hot = 0;
    for (size_t k = 0; k < m; ++k) ++(pj[k].qcomb != nullptr ? hot : cold);
    detail::P256Item items[2];
    size_t item_of[2];
    size_t n_items = 0, e = 0;
    for (size_t k = 0; k < m; ++k) {
      const EcdsaP256Job& j = jobs[index[k]];
      if (pj[k].qcomb == nullptr && cold == 1) {
        verdicts[index[k]] = verify_openssl(j) ? 1 : 0;
        continue;
      }
      if (pj[k].qcomb != nullptr && hot <= 2) {
        detail::P256Item& it = items[n_items];
        it.key = &j.key->impl().fast;
        std::memcpy(it.r, j.signature, 32);
        std::memcpy(it.s, j.signature + 32, 32);
        std::memcpy(it.e, digests[k], 32);
        item_of[n_items++] = index[k];
        continue;
      }
      pj[e] = pj[k];
      in[e] = in[k];
      index[e++] = index[k];
    }
    if (n_items > 0) {
      uint8_t v[2];
      detail::p256_verify_items(items, n_items, v);
      for (size_t k = 0; k < n_items; ++k) verdicts[item_of[k]] = v[k];
    }
    if (e == 0) continue;
    detail::ec_prepare(cp, in, e, pj);
    detail::ec_verify_avx512(cp, pj, e, out);
    detail::EcCounters& ctr = detail::ec_thread_counters();
    for (size_t k = 0; k < e; ++k) {
      ++(out[k] == detail::kEcExact ? ctr.exact : ctr.engine);
      // An exceptional case of the addition formulas: the reference decides.
      verdicts[index[k]] =
          out[k] == detail::kEcExact ? (verify_openssl(jobs[index[k]]) ? 1 : 0) : out[k];
    }
  }
}

bool use_engine(Backend b) {
  return (b == Backend::kAuto || b == Backend::kAvx512) && backend_supported(Backend::kAvx512);
}

// Portable path over a span of jobs.
void verify_fast(std::span<const EcdsaP256Job> jobs, uint8_t* verdicts) {
  detail::P256Item items[kChunk];
  size_t index[kChunk];
  uint8_t out[kChunk];
  for (size_t base = 0; base < jobs.size(); base += kChunk) {
    const size_t end = std::min(jobs.size(), base + kChunk);
    size_t m = 0;
    for (size_t i = base; i < end; ++i) {
      const EcdsaP256Job& j = jobs[i];
      verdicts[i] = 0;
      if (!job_well_formed(j)) continue;
      if (!detail::p256_key_ready(j.key->impl().fast)) {
        // Key without a precomputed table (not used often enough yet, or table budget
        // exhausted): OpenSSL is faster than Assay's arithmetic with doublings.
        verdicts[i] = verify_openssl(j) ? 1 : 0;
        continue;
      }
      detail::P256Item& it = items[m];
      it.key = &j.key->impl().fast;
      std::memcpy(it.r, j.signature, 32);
      std::memcpy(it.s, j.signature + 32, 32);
      digest(j, it.e);
      index[m++] = i;
    }
    if (m == 0) continue;
    detail::p256_verify_items(items, m, out);
    for (size_t k = 0; k < m; ++k) verdicts[index[k]] = out[k];
    detail::ec_thread_counters().engine += m;  // decided by Assay's comb arithmetic
  }
}

}  // namespace

std::optional<EcdsaP256PublicKey> EcdsaP256PublicKey::parse(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > 16384) return std::nullopt;
  auto impl = std::make_shared<Impl>();
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (normalize_point(bytes.data(), bytes.size(), impl->raw)) {
    impl->pkey = pkey_from_uncompressed(impl->raw);
  } else if (text.find("-----BEGIN") != std::string_view::npos) {
    BIO* bio = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
    EVP_PKEY* pk = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (!raw_from_pkey(pk, impl->raw)) {
      EVP_PKEY_free(pk);
      ERR_clear_error();
      return std::nullopt;
    }
    EVP_PKEY_free(pk);
    impl->pkey = pkey_from_uncompressed(impl->raw);
  } else if (bytes[0] == 0x30) {
    const uint8_t* p = bytes.data();
    EVP_PKEY* pk = d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size()));
    const bool consumed = p == bytes.data() + bytes.size();
    if (!consumed || !raw_from_pkey(pk, impl->raw)) {
      EVP_PKEY_free(pk);
      ERR_clear_error();
      return std::nullopt;
    }
    EVP_PKEY_free(pk);
    impl->pkey = pkey_from_uncompressed(impl->raw);
  }
  if (impl->pkey == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  detail::p256_key_state_init(impl->fast, impl->raw.data());
  return EcdsaP256PublicKey(std::move(impl));
}

const std::array<uint8_t, 65>& EcdsaP256PublicKey::uncompressed() const { return impl_->raw; }

bool ecdsa_p256_verify(const EcdsaP256Job& job, Backend b) {
  if (b == Backend::kOpenSSL) return verify_openssl(job);
  uint8_t v = 0;
  if (use_engine(b)) {
    verify_engine(std::span<const EcdsaP256Job>(&job, 1), &v);
  } else {
    verify_fast(std::span<const EcdsaP256Job>(&job, 1), &v);
  }
  return v != 0;
}

void ecdsa_p256_verify_batch(std::span<const EcdsaP256Job> jobs, std::span<uint8_t> verdicts,
                             Backend b) {
  const size_t n = std::min(jobs.size(), verdicts.size());
  if (b == Backend::kOpenSSL) {
    for (size_t i = 0; i < n; ++i) verdicts[i] = verify_openssl(jobs[i]) ? 1 : 0;
    return;
  }
  if (use_engine(b)) {
    verify_engine(jobs.first(n), verdicts.data());
    return;
  }
  verify_fast(jobs.first(n), verdicts.data());
}

bool ecdsa_der_to_p1363(std::span<const uint8_t> der, uint8_t out[64]) {
  return ecdsa_der_to_rs(der, 32, out);
}

std::optional<EcdsaP256KeyPair> ecdsa_p256_keypair() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (pkey == nullptr) return std::nullopt;
  EcdsaP256KeyPair kp;
  uint8_t* der = nullptr;
  const int der_len = i2d_PrivateKey(pkey, &der);
  std::array<uint8_t, 65> raw{};
  const bool ok = der_len > 0 && raw_from_pkey(pkey, raw);
  if (ok) {
    kp.private_der.assign(der, der + der_len);
    kp.public_uncompressed.assign(raw.begin(), raw.end());
  }
  OPENSSL_clear_free(der, der_len > 0 ? static_cast<size_t>(der_len) : 0);
  EVP_PKEY_free(pkey);
  if (!ok) return std::nullopt;
  return kp;
}

namespace {

// Decoding a DER private key through OpenSSL 3's decoders costs ~0.3 ms, far more than
// signing. Each thread keeps its last kSignKeyCache decoded signing keys (round robin).
class SignKeyCache {
 public:
  ~SignKeyCache() {
    for (auto& e : entries_) clear(e);
  }
  // Returns a borrowed EVP_PKEY for the DER key, or null if it is not a P-256 private key.
  EVP_PKEY* get(std::span<const uint8_t> der) {
    for (auto& e : entries_) {
      if (e.pkey != nullptr && e.der.size() == der.size() &&
          std::equal(e.der.begin(), e.der.end(), der.begin())) {
        return e.pkey;
      }
    }
    const uint8_t* p = der.data();
    EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
    std::array<uint8_t, 65> raw{};
    if (pkey == nullptr || !raw_from_pkey(pkey, raw)) {
      EVP_PKEY_free(pkey);
      return nullptr;
    }
    Entry& e = entries_[next_];
    next_ = (next_ + 1) % entries_.size();
    clear(e);
    e.der.assign(der.begin(), der.end());
    e.pkey = pkey;
    return pkey;
  }

 private:
  struct Entry {
    std::vector<uint8_t> der;
    EVP_PKEY* pkey = nullptr;
  };
  static void clear(Entry& e) {
    if (!e.der.empty()) OPENSSL_cleanse(e.der.data(), e.der.size());
    e.der.clear();
    EVP_PKEY_free(e.pkey);
    e.pkey = nullptr;
  }
  std::array<Entry, 16> entries_{};
  size_t next_ = 0;
};

}  // namespace

bool ecdsa_p256_sign(std::span<const uint8_t> private_der, const uint8_t* msg, size_t len,
                     uint8_t signature[64]) {
  if (msg == nullptr && len != 0) return false;
  if (private_der.empty()) return false;
  thread_local SignKeyCache cache;
  EVP_PKEY* pkey = cache.get(private_der);
  if (pkey == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t der[80];
  size_t der_len = sizeof der;
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
            EVP_DigestSign(ctx, der, &der_len, msg != nullptr ? msg : kEmpty, len) == 1 &&
            ecdsa_der_to_p1363(std::span<const uint8_t>(der, der_len), signature);
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace assay::crypto
