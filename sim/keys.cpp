#include "sim/keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <atomic>
#include <cstring>

namespace assay::sim {

namespace {

const EC_GROUP* p256() {
  static EC_GROUP* g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return g;
}

struct BnCtxHolder {
  BN_CTX* ctx = BN_CTX_new();
  ~BnCtxHolder() { BN_CTX_free(ctx); }
};

BN_CTX* thread_bn_ctx() {
  thread_local BnCtxHolder h;
  return h.ctx;
}

// Per-thread Ed25519 signing context, initialised for the key that used it last: a context
// can sign again with the same key, which saves the fetch/init work of EVP_DigestSignInit.
struct EdCtxCache {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint64_t key_uid = 0;
  ~EdCtxCache() { EVP_MD_CTX_free(ctx); }
};

EdCtxCache& thread_ed_cache() {
  thread_local EdCtxCache c;
  return c;
}

std::atomic<uint64_t> g_next_uid{1};

}  // namespace

struct SigningKey::Impl {
  EVP_PKEY* ed = nullptr;  // Ed25519
  BIGNUM* d = nullptr;     // ECDSA private scalar
  ~Impl() {
    EVP_PKEY_free(ed);
    BN_clear_free(d);
  }
};

std::string_view alg_registry_name(Alg alg) {
  switch (alg) {
    case Alg::kEd25519: return "Ed25519";
    case Alg::kEcdsaP256: return "EcdsaP256Sha256";
    case Alg::kHmac: return "HmacSha256";
  }
  return "?";
}

size_t signature_size(Alg alg) { return alg == Alg::kHmac ? 32 : 64; }

SigningKey::~SigningKey() {
  delete impl_;
  OPENSSL_cleanse(priv_.data(), priv_.size());
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

std::unique_ptr<SigningKey> SigningKey::from_seed(Alg alg, std::span<const uint8_t, 32> seed) {
  std::unique_ptr<SigningKey> k(new SigningKey());
  k->alg_ = alg;
  k->uid_ = g_next_uid.fetch_add(1, std::memory_order_relaxed);
  k->impl_ = new Impl();
  switch (alg) {
    case Alg::kEd25519: {
      std::memcpy(k->priv_.data(), seed.data(), 32);
      k->impl_->ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32);
      if (k->impl_->ed == nullptr) return nullptr;
      size_t len = 32;
      k->public_.resize(32);
      if (EVP_PKEY_get_raw_public_key(k->impl_->ed, k->public_.data(), &len) != 1 || len != 32)
        return nullptr;
      return k;
    }
    case Alg::kEcdsaP256: {
      const EC_GROUP* g = p256();
      BN_CTX* ctx = thread_bn_ctx();
      const BIGNUM* n = EC_GROUP_get0_order(g);
      // d = 1 + (SHA-256(seed) mod (n - 1)).
      uint8_t h[32];
      SHA256(seed.data(), 32, h);
      BIGNUM* d = BN_bin2bn(h, 32, nullptr);
      BIGNUM* nm1 = BN_dup(n);
      BN_sub_word(nm1, 1);
      BN_nnmod(d, d, nm1, ctx);
      BN_add_word(d, 1);
      BN_free(nm1);
      k->impl_->d = d;
      BN_bn2binpad(d, k->priv_.data(), 32);
      EC_POINT* q = EC_POINT_new(g);
      bool ok = q != nullptr && EC_POINT_mul(g, q, d, nullptr, nullptr, ctx) == 1;
      if (ok) {
        k->public_.resize(65);
        ok = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, k->public_.data(), 65, ctx) == 65;
      }
      EC_POINT_free(q);
      if (!ok) return nullptr;
      return k;
    }
    case Alg::kHmac:
      k->secret_.assign(seed.begin(), seed.end());
      return k;
  }
  return nullptr;
}

bool SigningKey::sign(std::span<const uint8_t> msg, std::vector<uint8_t>& sig) const {
  switch (alg_) {
    case Alg::kEd25519: {
      EdCtxCache& c = thread_ed_cache();
      sig.resize(64);
      size_t len = 64;
      if (c.key_uid == uid_ && EVP_DigestSign(c.ctx, sig.data(), &len, msg.data(), msg.size()) == 1 && len == 64)
        return true;
      // Different key, or this OpenSSL refuses to reuse a context: initialise afresh.
      c.key_uid = 0;
      EVP_MD_CTX_reset(c.ctx);
      if (EVP_DigestSignInit(c.ctx, nullptr, nullptr, nullptr, impl_->ed) != 1) return false;
      c.key_uid = uid_;
      len = 64;
      return EVP_DigestSign(c.ctx, sig.data(), &len, msg.data(), msg.size()) == 1 && len == 64;
    }
    case Alg::kEcdsaP256: {
      const EC_GROUP* g = p256();
      BN_CTX* ctx = thread_bn_ctx();
      const BIGNUM* n = EC_GROUP_get0_order(g);
      uint8_t h[32];
      SHA256(msg.data(), msg.size(), h);
      BN_CTX_start(ctx);
      BIGNUM* e = BN_CTX_get(ctx);
      BIGNUM* kk = BN_CTX_get(ctx);
      BIGNUM* x = BN_CTX_get(ctx);
      BIGNUM* r = BN_CTX_get(ctx);
      BIGNUM* s = BN_CTX_get(ctx);
      BIGNUM* kinv = BN_CTX_get(ctx);
      EC_POINT* R = EC_POINT_new(g);
      bool ok = R != nullptr && s != nullptr && BN_bin2bn(h, 32, e) != nullptr;
      for (uint32_t counter = 0; ok && counter < 16; ++counter) {
        // Deterministic nonce: SHA-256(d || h || counter) mod n.
        uint8_t buf[32 + 32 + 4];
        std::memcpy(buf, priv_.data(), 32);
        std::memcpy(buf + 32, h, 32);
        std::memcpy(buf + 64, &counter, 4);
        uint8_t kb[32];
        SHA256(buf, sizeof buf, kb);
        OPENSSL_cleanse(buf, sizeof buf);
        ok = BN_bin2bn(kb, 32, kk) != nullptr && BN_nnmod(kk, kk, n, ctx) == 1;
        if (!ok || BN_is_zero(kk)) continue;
        ok = EC_POINT_mul(g, R, kk, nullptr, nullptr, ctx) == 1 &&
             EC_POINT_get_affine_coordinates(g, R, x, nullptr, ctx) == 1 && BN_nnmod(r, x, n, ctx) == 1;
        if (!ok || BN_is_zero(r)) continue;
        // s = k^-1 (e + r d) mod n
        ok = BN_mod_mul(s, r, impl_->d, n, ctx) == 1 && BN_mod_add(s, s, e, n, ctx) == 1 &&
             BN_mod_inverse(kinv, kk, n, ctx) != nullptr && BN_mod_mul(s, s, kinv, n, ctx) == 1;
        if (!ok || BN_is_zero(s)) continue;
        sig.resize(64);
        ok = BN_bn2binpad(r, sig.data(), 32) == 32 && BN_bn2binpad(s, sig.data() + 32, 32) == 32;
        EC_POINT_free(R);
        BN_CTX_end(ctx);
        return ok;
      }
      EC_POINT_free(R);
      BN_CTX_end(ctx);
      return false;
    }
    case Alg::kHmac: {
      sig.resize(32);
      unsigned int len = 32;
      return HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), msg.data(), msg.size(),
                  sig.data(), &len) != nullptr &&
             len == 32;
    }
  }
  return false;
}

bool ecdsa_p1363_to_der(std::span<const uint8_t> rs, std::vector<uint8_t>& der) {
  if (rs.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(rs.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(rs.data() + 32, 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  const int len = i2d_ECDSA_SIG(sig, nullptr);
  bool ok = len > 0;
  if (ok) {
    der.resize(static_cast<size_t>(len));
    uint8_t* p = der.data();
    ok = i2d_ECDSA_SIG(sig, &p) == len;
  }
  ECDSA_SIG_free(sig);
  return ok;
}

namespace {

EVP_PKEY* ecdsa_public_pkey(std::span<const uint8_t> pub) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* pctx = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
      (pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(pctx) == 1) {
    if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

}  // namespace

bool verify_signature(Alg alg, std::span<const uint8_t> key, std::span<const uint8_t> msg,
                      std::span<const uint8_t> sig) {
  if (alg == Alg::kHmac) {
    uint8_t tag[32];
    unsigned int len = 32;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), tag, &len) ==
        nullptr)
      return false;
    return sig.size() == 32 && CRYPTO_memcmp(tag, sig.data(), 32) == 0;
  }
  EVP_PKEY* pkey = nullptr;
  std::vector<uint8_t> der;
  std::span<const uint8_t> s = sig;
  const EVP_MD* md = nullptr;
  if (alg == Alg::kEd25519) {
    if (key.size() != 32 || sig.size() != 64) return false;
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  } else {
    if (key.size() != 65 || !ecdsa_p1363_to_der(sig, der)) return false;
    pkey = ecdsa_public_pkey(key);
    s = der;
    md = EVP_sha256();
  }
  if (pkey == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx, s.data(), s.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

}  // namespace assay::sim
