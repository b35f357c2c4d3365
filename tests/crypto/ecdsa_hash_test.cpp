// EcdsaJob::hash: SHA-256 on the 384-bit curves (OCMF's "ECDSA-secp384r1-SHA256" and
// "ECDSA-brainpool384r1-SHA256") verifies what OpenSSL signs with SHA-256, on every backend and
// mixed in one batch with SHA-384 jobs; a hash that does not fit the curve is invalid.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

#include "crypto/ecdsa.hpp"

namespace assay::crypto {
namespace {

struct Key {
  EVP_PKEY* pkey = nullptr;
  std::vector<uint8_t> point;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  Key() = default;
  ~Key() { EVP_PKEY_free(pkey); }
};

void make(Key& k, const char* curve) {
  k.pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  ASSERT_NE(k.pkey, nullptr);
  uint8_t pub[200];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(k.pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                  &len);
  k.point.assign(pub, pub + len);
}

// DER signature of `msg` with `md`.
std::vector<uint8_t> sign(EVP_PKEY* pk, const EVP_MD* md, const std::vector<uint8_t>& msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t der[160];
  size_t dl = sizeof der;
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, md, nullptr, pk), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, der, &dl, msg.data(), msg.size()), 1);
  EVP_MD_CTX_free(ctx);
  return {der, der + dl};
}

TEST(EcdsaHash, Sha256OnThe384BitCurvesOnEveryBackend) {
  for (const auto& [curve, name] : {std::pair{EcdsaCurve::kP384, "secp384r1"},
                                    std::pair{EcdsaCurve::kBrainpoolP384r1, "brainpoolP384r1"}}) {
    SCOPED_TRACE(name);
    Key k;
    make(k, name);
    const EcdsaPublicKey key = *EcdsaPublicKey::parse(curve, k.point).key;
    std::mt19937_64 rng(7);
    // 40 jobs: even ones SHA-256, odd ones SHA-384; every third one tampered after signing.
    std::vector<std::vector<uint8_t>> msgs, sigs;
    std::vector<EcdsaJob> jobs;
    std::vector<uint8_t> expect;
    for (int i = 0; i < 40; ++i) {
      std::vector<uint8_t> m(1 + rng() % 300);
      for (auto& b : m) b = static_cast<uint8_t>(rng());
      const bool sha256 = i % 2 == 0;
      sigs.push_back(sign(k.pkey, sha256 ? EVP_sha256() : EVP_sha384(), m));
      if (i % 3 == 0) m[0] ^= 1;
      expect.push_back(i % 3 == 0 ? 0 : 1);
      msgs.push_back(std::move(m));
    }
    for (int i = 0; i < 40; ++i) {
      EcdsaJob j{&key,           sigs[i].data(), sigs[i].size(), EcdsaSignatureFormat::kDer,
                 msgs[i].data(), msgs[i].size()};
      j.hash = i % 2 == 0 ? EcdsaHash::kSha256 : EcdsaHash::kCurve;
      jobs.push_back(j);
    }
    for (Backend b : supported_backends()) {
      SCOPED_TRACE(backend_name(b));
      std::vector<uint8_t> got(jobs.size(), 9);
      ecdsa_verify_batch(curve, jobs, got, b);
      EXPECT_EQ(got, expect);
      // The hash is part of the verdict: the same signature with the other hash is invalid.
      EcdsaJob swapped = jobs[1];
      swapped.hash = EcdsaHash::kSha256;
      EXPECT_FALSE(ecdsa_verify(swapped, b));
      EXPECT_TRUE(ecdsa_verify(jobs[1], b));
    }
  }
}

TEST(EcdsaHash, Sha384OnA256BitCurveIsInvalid) {
  Key k;
  make(k, "prime256v1");
  const EcdsaPublicKey key = *EcdsaPublicKey::parse(EcdsaCurve::kP256, k.point).key;
  const std::vector<uint8_t> m = {1, 2, 3};
  const auto sig = sign(k.pkey, EVP_sha256(), m);
  EcdsaJob j{&key, sig.data(), sig.size(), EcdsaSignatureFormat::kDer, m.data(), m.size()};
  for (Backend b : supported_backends()) {
    j.hash = EcdsaHash::kSha256;
    EXPECT_TRUE(ecdsa_verify(j, b));
    j.hash = EcdsaHash::kCurve;
    EXPECT_TRUE(ecdsa_verify(j, b));
    j.hash = EcdsaHash::kSha384;
    EXPECT_FALSE(ecdsa_verify(j, b));
  }
}

}  // namespace
}  // namespace assay::crypto
