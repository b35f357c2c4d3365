// Key generation and signing (crypto/signing.hpp). Uses only non-deprecated OpenSSL 3.0 APIs.
#include "crypto/signing.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <array>
#include <atomic>
#include <cstring>

#include "crypto/ed25519.hpp"

namespace assay::crypto {

namespace {

int nid_of(EcdsaCurve c) {
  switch (c) {
    case EcdsaCurve::kP256:
      return NID_X9_62_prime256v1;
    case EcdsaCurve::kP384:
      return NID_secp384r1;
    case EcdsaCurve::kBrainpoolP256r1:
      return NID_brainpoolP256r1;
    case EcdsaCurve::kBrainpoolP384r1:
      return NID_brainpoolP384r1;
  }
  return NID_undef;
}

const char* group_name(EcdsaCurve c) {
  switch (c) {
    case EcdsaCurve::kP256:
      return "prime256v1";
    case EcdsaCurve::kP384:
      return "secp384r1";
    case EcdsaCurve::kBrainpoolP256r1:
      return "brainpoolP256r1";
    case EcdsaCurve::kBrainpoolP384r1:
      return "brainpoolP384r1";
  }
  return "";
}

SignatureAlgorithm alg_of(EcdsaCurve c) {
  switch (c) {
    case EcdsaCurve::kP256:
      return SignatureAlgorithm::kEcdsaP256;
    case EcdsaCurve::kP384:
      return SignatureAlgorithm::kEcdsaP384;
    case EcdsaCurve::kBrainpoolP256r1:
      return SignatureAlgorithm::kEcdsaBrainpoolP256r1;
    case EcdsaCurve::kBrainpoolP384r1:
      return SignatureAlgorithm::kEcdsaBrainpoolP384r1;
  }
  return SignatureAlgorithm::kEcdsaP256;
}

const EVP_MD* md_of(EcdsaCurve c) {
  return ecdsa_field_bytes(c) == 32 ? EVP_sha256() : EVP_sha384();
}

const EC_GROUP* group_of(EcdsaCurve c) {
  static EC_GROUP* const groups[4] = {
      EC_GROUP_new_by_curve_name(nid_of(EcdsaCurve::kP256)),
      EC_GROUP_new_by_curve_name(nid_of(EcdsaCurve::kP384)),
      EC_GROUP_new_by_curve_name(nid_of(EcdsaCurve::kBrainpoolP256r1)),
      EC_GROUP_new_by_curve_name(nid_of(EcdsaCurve::kBrainpoolP384r1))};
  return groups[static_cast<size_t>(c)];
}

struct BnCtxHolder {
  BN_CTX* ctx = BN_CTX_secure_new();
  ~BnCtxHolder() { BN_CTX_free(ctx); }
};

BN_CTX* thread_bn_ctx() {
  thread_local BnCtxHolder h;
  return h.ctx;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// EVP_PKEY of an EC key from its private scalar and public point (for PEM export).
EVP_PKEY* ec_pkey_from(EcdsaCurve c, const BIGNUM* d, const std::vector<uint8_t>& pub) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group_name(c), 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
      (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

bool ec_public_of(EVP_PKEY* pkey, std::vector<uint8_t>& out) {
  uint8_t pub[200];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                      &len) != 1 ||
      len == 0 || pub[0] != 0x04) {
    return false;
  }
  out.assign(pub, pub + len);
  return true;
}

std::atomic<uint64_t> g_next_uid{1};

// Sets up libsodium signing for an Ed25519 key OpenSSL holds: libsodium's secret key from the
// 32-byte private key (the RFC 8032 seed), used only if the public key it derives is the one
// OpenSSL derived. libsodium signs in ~22 us where OpenSSL takes 47-52 us (AMD EPYC;
// `ed25519/sign/*` in bench/bench_crypto_ed25519.cpp); without it, OpenSSL signs.
void enable_sodium_ed25519(EVP_PKEY* pkey, const std::vector<uint8_t>& public_key,
                           std::array<uint8_t, crypto_sign_SECRETKEYBYTES>& sk, bool& enabled) {
  enabled = false;
  static const bool ready = sodium_init() >= 0;  // thread-safe, idempotent
  if (!ready || public_key.size() != crypto_sign_PUBLICKEYBYTES) return;
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  size_t len = seed.size();
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  if (EVP_PKEY_get_raw_private_key(pkey, seed.data(), &len) == 1 && len == seed.size() &&
      crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data()) == 0 &&
      std::memcmp(pk.data(), public_key.data(), pk.size()) == 0) {
    enabled = true;
  } else {
    ERR_clear_error();
    sodium_memzero(sk.data(), sk.size());
  }
  sodium_memzero(seed.data(), seed.size());
}

// Per-thread Ed25519 signing context, initialised for the key that used it last: a context can
// sign again with the same key, which saves the fetch/init work of EVP_DigestSignInit.
struct EdCtxCache {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint64_t key_uid = 0;
  ~EdCtxCache() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

struct SigningKey::Impl {
  EVP_PKEY* pkey = nullptr;      // Ed25519 or EC (every asymmetric key)
  BIGNUM* d = nullptr;           // ECDSA private scalar of a seeded key (deterministic signing)
  std::vector<uint8_t> d_bytes;  // the same, big-endian, field bytes (HMAC key of the nonce)
  EcdsaCurve curve = EcdsaCurve::kP256;
  uint64_t uid = 0;  // process-unique (per-thread signing contexts are cached by it)
  // Ed25519: libsodium's secret key (seed ‖ public key) when it could be set up (sign() then
  // signs with libsodium; the signatures are OpenSSL's, RFC 8032 being deterministic).
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> ed_sk{};
  bool ed_sodium = false;
  ~Impl() {
    sodium_memzero(ed_sk.data(), ed_sk.size());
    EVP_PKEY_free(pkey);
    BN_clear_free(d);
    if (!d_bytes.empty()) OPENSSL_cleanse(d_bytes.data(), d_bytes.size());
  }
};

std::string_view signature_algorithm_name(SignatureAlgorithm alg) {
  switch (alg) {
    case SignatureAlgorithm::kEd25519:
      return "Ed25519";
    case SignatureAlgorithm::kEcdsaP256:
      return "EcdsaP256Sha256";
    case SignatureAlgorithm::kHmac:
      return "HmacSha256";
    case SignatureAlgorithm::kEcdsaP384:
      return "EcdsaP384Sha384";
    case SignatureAlgorithm::kEcdsaBrainpoolP256r1:
      return "EcdsaBrainpoolP256r1Sha256";
    case SignatureAlgorithm::kEcdsaBrainpoolP384r1:
      return "EcdsaBrainpoolP384r1Sha384";
  }
  return "?";
}

bool parse_signature_algorithm(std::string_view name, SignatureAlgorithm& out) {
  for (SignatureAlgorithm a : kSignatureAlgorithms) {
    if (signature_algorithm_name(a) == name) {
      out = a;
      return true;
    }
  }
  return false;
}

size_t signature_size(SignatureAlgorithm alg) {
  if (alg == SignatureAlgorithm::kHmac) return 32;
  if (const auto c = ecdsa_curve_of(alg)) return 2 * ecdsa_field_bytes(*c);
  return 64;
}

std::optional<EcdsaCurve> ecdsa_curve_of(SignatureAlgorithm alg) {
  switch (alg) {
    case SignatureAlgorithm::kEcdsaP256:
      return EcdsaCurve::kP256;
    case SignatureAlgorithm::kEcdsaP384:
      return EcdsaCurve::kP384;
    case SignatureAlgorithm::kEcdsaBrainpoolP256r1:
      return EcdsaCurve::kBrainpoolP256r1;
    case SignatureAlgorithm::kEcdsaBrainpoolP384r1:
      return EcdsaCurve::kBrainpoolP384r1;
    case SignatureAlgorithm::kEd25519:
    case SignatureAlgorithm::kHmac:
      return std::nullopt;
  }
  return std::nullopt;
}

SigningKey::~SigningKey() {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

std::unique_ptr<SigningKey> SigningKey::generate(SignatureAlgorithm alg) {
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->alg_ = alg;
  k->impl_ = std::make_unique<Impl>();
  k->impl_->uid = g_next_uid.fetch_add(1, std::memory_order_relaxed);
  if (alg == SignatureAlgorithm::kHmac) {
    k->secret_.resize(32);
    if (RAND_bytes(k->secret_.data(), 32) != 1) return nullptr;
    return k;
  }
  if (alg == SignatureAlgorithm::kEd25519) {
    k->impl_->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (k->impl_->pkey == nullptr) return nullptr;
    k->public_.resize(32);
    size_t len = 32;
    if (EVP_PKEY_get_raw_public_key(k->impl_->pkey, k->public_.data(), &len) != 1 || len != 32)
      return nullptr;
    enable_sodium_ed25519(k->impl_->pkey, k->public_, k->impl_->ed_sk, k->impl_->ed_sodium);
    return k;
  }
  const EcdsaCurve c = *ecdsa_curve_of(alg);
  k->impl_->curve = c;
  k->impl_->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group_name(c));
  if (k->impl_->pkey == nullptr || !ec_public_of(k->impl_->pkey, k->public_)) return nullptr;
  return k;
}

std::unique_ptr<SigningKey> SigningKey::from_seed(SignatureAlgorithm alg,
                                                  std::span<const uint8_t, 32> seed) {
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->alg_ = alg;
  k->impl_ = std::make_unique<Impl>();
  k->impl_->uid = g_next_uid.fetch_add(1, std::memory_order_relaxed);
  if (alg == SignatureAlgorithm::kHmac) {
    k->secret_.assign(seed.begin(), seed.end());
    return k;
  }
  if (alg == SignatureAlgorithm::kEd25519) {
    k->impl_->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32);
    if (k->impl_->pkey == nullptr) return nullptr;
    k->public_.resize(32);
    size_t len = 32;
    if (EVP_PKEY_get_raw_public_key(k->impl_->pkey, k->public_.data(), &len) != 1 || len != 32)
      return nullptr;
    enable_sodium_ed25519(k->impl_->pkey, k->public_, k->impl_->ed_sk, k->impl_->ed_sodium);
    return k;
  }
  const EcdsaCurve c = *ecdsa_curve_of(alg);
  Impl& im = *k->impl_;
  im.curve = c;
  const EC_GROUP* g = group_of(c);
  BN_CTX* ctx = thread_bn_ctx();
  if (g == nullptr || ctx == nullptr) return nullptr;
  // d = 1 + (SHA-512(seed) mod (n - 1)).
  uint8_t h[64];
  unsigned hl = 0;
  if (EVP_Digest(seed.data(), 32, h, &hl, EVP_sha512(), nullptr) != 1) return nullptr;
  im.d = BN_secure_new();
  BIGNUM* nm1 = BN_dup(EC_GROUP_get0_order(g));
  const bool ok_d = im.d != nullptr && nm1 != nullptr && BN_bin2bn(h, 64, im.d) != nullptr &&
                    BN_sub_word(nm1, 1) == 1 && BN_nnmod(im.d, im.d, nm1, ctx) == 1 &&
                    BN_add_word(im.d, 1) == 1;
  BN_free(nm1);
  OPENSSL_cleanse(h, sizeof h);
  if (!ok_d) return nullptr;
  BN_set_flags(im.d, BN_FLG_CONSTTIME);
  const size_t fb = ecdsa_field_bytes(c);
  im.d_bytes.resize(fb);
  if (BN_bn2binpad(im.d, im.d_bytes.data(), static_cast<int>(fb)) != static_cast<int>(fb))
    return nullptr;
  EC_POINT* q = EC_POINT_new(g);
  bool ok = q != nullptr && EC_POINT_mul(g, q, im.d, nullptr, nullptr, ctx) == 1;
  if (ok) {
    k->public_.resize(1 + 2 * fb);
    ok = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, k->public_.data(),
                            k->public_.size(), ctx) == k->public_.size();
  }
  EC_POINT_free(q);
  if (!ok) return nullptr;
  im.pkey = ec_pkey_from(c, im.d, k->public_);
  if (im.pkey == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  return k;
}

std::unique_ptr<SigningKey> SigningKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey =
      bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  ERR_clear_error();
  if (pkey == nullptr) return nullptr;
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->impl_ = std::make_unique<Impl>();
  k->impl_->uid = g_next_uid.fetch_add(1, std::memory_order_relaxed);
  k->impl_->pkey = pkey;
  if (EVP_PKEY_is_a(pkey, "ED25519") == 1) {
    k->alg_ = SignatureAlgorithm::kEd25519;
    k->public_.resize(32);
    size_t len = 32;
    if (EVP_PKEY_get_raw_public_key(pkey, k->public_.data(), &len) != 1 || len != 32)
      return nullptr;
    enable_sodium_ed25519(pkey, k->public_, k->impl_->ed_sk, k->impl_->ed_sodium);
    return k;
  }
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return nullptr;
  char group[64] = {};
  size_t glen = 0;
  EcdsaCurve c;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &glen) != 1 ||
      !parse_ecdsa_curve(std::string_view(group, glen), c) || !ec_public_of(pkey, k->public_)) {
    ERR_clear_error();
    return nullptr;
  }
  k->alg_ = alg_of(c);
  k->impl_->curve = c;
  return k;
}

namespace {

// Deterministic ECDSA (seeded keys): see the header.
bool sign_deterministic(const SigningKey::Impl& im, std::span<const uint8_t> msg,
                        std::vector<uint8_t>& sig) {
  const EcdsaCurve c = im.curve;
  const size_t fb = ecdsa_field_bytes(c);
  const EC_GROUP* g = group_of(c);
  BN_CTX* ctx = thread_bn_ctx();
  if (g == nullptr || ctx == nullptr) return false;
  const BIGNUM* n = EC_GROUP_get0_order(g);
  static const uint8_t kEmpty = 0;
  uint8_t e_bytes[48];
  unsigned el = 0;
  if (EVP_Digest(msg.empty() ? &kEmpty : msg.data(), msg.size(), e_bytes, &el, md_of(c), nullptr) !=
          1 ||
      el != fb) {
    return false;
  }
  BN_CTX_start(ctx);
  BIGNUM* e = BN_CTX_get(ctx);
  BIGNUM* kk = BN_CTX_get(ctx);
  BIGNUM* nm1 = BN_CTX_get(ctx);
  BIGNUM* x = BN_CTX_get(ctx);
  BIGNUM* r = BN_CTX_get(ctx);
  BIGNUM* s = BN_CTX_get(ctx);
  BIGNUM* kinv = BN_CTX_get(ctx);
  EC_POINT* R = EC_POINT_new(g);
  bool ok = R != nullptr && kinv != nullptr && BN_bin2bn(e_bytes, static_cast<int>(fb), e) &&
            BN_copy(nm1, n) != nullptr && BN_sub_word(nm1, 1) == 1;
  bool done = false;
  for (uint32_t counter = 0; ok && !done && counter < 16; ++counter) {
    // k = 1 + (HMAC-SHA-512(d, e || counter) mod (n - 1)).
    uint8_t buf[48 + 4];
    std::memcpy(buf, e_bytes, fb);
    for (int b = 0; b < 4; ++b)
      buf[fb + static_cast<size_t>(b)] = static_cast<uint8_t>(counter >> (8 * b));
    uint8_t mac[64];
    unsigned ml = 0;
    ok = HMAC(EVP_sha512(), im.d_bytes.data(), static_cast<int>(fb), buf, fb + 4, mac, &ml) !=
             nullptr &&
         BN_bin2bn(mac, 64, kk) != nullptr && BN_nnmod(kk, kk, nm1, ctx) == 1 &&
         BN_add_word(kk, 1) == 1;
    OPENSSL_cleanse(mac, sizeof mac);
    if (!ok) break;
    BN_set_flags(kk, BN_FLG_CONSTTIME);
    ok = EC_POINT_mul(g, R, kk, nullptr, nullptr, ctx) == 1 &&
         EC_POINT_get_affine_coordinates(g, R, x, nullptr, ctx) == 1 && BN_nnmod(r, x, n, ctx) == 1;
    if (!ok || BN_is_zero(r)) continue;
    // s = k^-1 (e + r d) mod n
    ok = BN_mod_mul(s, r, im.d, n, ctx) == 1 && BN_mod_add(s, s, e, n, ctx) == 1 &&
         BN_mod_inverse(kinv, kk, n, ctx) != nullptr && BN_mod_mul(s, s, kinv, n, ctx) == 1;
    if (!ok || BN_is_zero(s)) continue;
    sig.resize(2 * fb);
    ok = BN_bn2binpad(r, sig.data(), static_cast<int>(fb)) == static_cast<int>(fb) &&
         BN_bn2binpad(s, sig.data() + fb, static_cast<int>(fb)) == static_cast<int>(fb);
    done = ok;
  }
  BN_clear(kk);
  EC_POINT_free(R);
  BN_CTX_end(ctx);
  if (!done) ERR_clear_error();
  return done;
}

}  // namespace

std::string_view SigningKey::signer() const {
  return alg_ == SignatureAlgorithm::kEd25519 && impl_->ed_sodium ? "libsodium" : "openssl";
}

bool SigningKey::sign(std::span<const uint8_t> msg, std::vector<uint8_t>& sig) const {
  static const uint8_t kEmpty = 0;
  const uint8_t* m = msg.empty() ? &kEmpty : msg.data();
  switch (alg_) {
    case SignatureAlgorithm::kHmac: {
      sig.resize(32);
      unsigned int len = 32;
      return HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), m, msg.size(),
                  sig.data(), &len) != nullptr &&
             len == 32;
    }
    case SignatureAlgorithm::kEd25519: {
      sig.resize(64);
      if (impl_->ed_sodium)
        return crypto_sign_detached(sig.data(), nullptr, m, msg.size(), impl_->ed_sk.data()) == 0;
      thread_local EdCtxCache c;
      size_t len = 64;
      if (c.key_uid == impl_->uid && EVP_DigestSign(c.ctx, sig.data(), &len, m, msg.size()) == 1 &&
          len == 64) {
        return true;
      }
      // Different key, or this OpenSSL refuses to reuse a context: initialise afresh.
      c.key_uid = 0;
      EVP_MD_CTX_reset(c.ctx);
      if (EVP_DigestSignInit(c.ctx, nullptr, nullptr, nullptr, impl_->pkey) != 1) {
        ERR_clear_error();
        return false;
      }
      c.key_uid = impl_->uid;
      len = 64;
      const bool ok = EVP_DigestSign(c.ctx, sig.data(), &len, m, msg.size()) == 1 && len == 64;
      if (!ok) ERR_clear_error();
      return ok;
    }
    default:
      break;
  }
  if (impl_->d != nullptr) return sign_deterministic(*impl_, msg, sig);
  const size_t fb = ecdsa_field_bytes(impl_->curve);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t der[160];
  size_t der_len = sizeof der;
  sig.resize(2 * fb);
  const bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, md_of(impl_->curve), nullptr, impl_->pkey) == 1 &&
      EVP_DigestSign(ctx, der, &der_len, m, msg.size()) == 1 &&
      ecdsa_der_to_rs(std::span<const uint8_t>(der, der_len), fb, sig.data());
  EVP_MD_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

std::string SigningKey::private_key_pem() const {
  if (impl_->pkey == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_secmem());
  std::string out;
  if (bio != nullptr &&
      PEM_write_bio_PKCS8PrivateKey(bio, impl_->pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1)
    out = bio_string(bio);
  BIO_free(bio);
  return out;
}

std::string SigningKey::public_key_pem() const {
  if (impl_->pkey == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  std::string out;
  if (bio != nullptr && PEM_write_bio_PUBKEY(bio, impl_->pkey) == 1) out = bio_string(bio);
  BIO_free(bio);
  return out;
}

bool verify_with_public_key(SignatureAlgorithm alg, std::span<const uint8_t> key,
                            std::span<const uint8_t> msg, std::span<const uint8_t> sig) {
  static const uint8_t kEmpty = 0;
  const uint8_t* m = msg.empty() ? &kEmpty : msg.data();
  if (alg == SignatureAlgorithm::kHmac) {
    uint8_t tag[32];
    unsigned int len = 32;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), m, msg.size(), tag, &len) ==
        nullptr)
      return false;
    return sig.size() == 32 && CRYPTO_memcmp(tag, sig.data(), 32) == 0;
  }
  if (alg == SignatureAlgorithm::kEd25519) {
    if (key.size() != 32 || sig.size() != 64) return false;
    return ed25519_verify({key.data(), sig.data(), m, msg.size()}, Backend::kOpenSSL);
  }
  const auto c = ecdsa_curve_of(alg);
  if (!c) return false;
  const EcdsaKeyParse k = EcdsaPublicKey::parse(*c, key);
  if (!k) return false;
  return ecdsa_verify(
      {&*k.key, sig.data(), sig.size(), EcdsaSignatureFormat::kP1363, m, msg.size()},
      Backend::kOpenSSL);
}

}  // namespace assay::crypto
