// Key generation and signing (crypto/signing.hpp): every algorithm, generated and seeded keys,
// PEM round trips, determinism of seeded keys, and signatures accepted by Assay's verifiers on
// every backend and by OpenSSL.
#include "crypto/signing.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "crypto/ecdsa.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hmac_sha256.hpp"

namespace assay::crypto {
namespace {

// Assay's verifier for the algorithm, on backend b.
bool assay_verify(const SigningKey& k, const std::vector<uint8_t>& msg,
                  const std::vector<uint8_t>& sig, Backend b) {
  switch (k.alg()) {
    case SignatureAlgorithm::kEd25519:
      return sig.size() == 64 &&
             ed25519_verify({k.public_key().data(), sig.data(), msg.data(), msg.size()}, b);
    case SignatureAlgorithm::kHmac: {
      const HmacSha256Key hk = HmacSha256Key::from_secret(k.secret());
      return hmac_sha256_verify({&hk, sig.data(), sig.size(), msg.data(), msg.size()}, b);
    }
    default: {
      const EcdsaKeyParse key = EcdsaPublicKey::parse(*ecdsa_curve_of(k.alg()), k.public_key());
      return key && ecdsa_verify({&*key.key, sig.data(), sig.size(), EcdsaSignatureFormat::kP1363,
                                  msg.data(), msg.size()},
                                 b);
    }
  }
}

TEST(Signing, NamesAndSizes) {
  std::set<std::string> names;
  for (SignatureAlgorithm a : kSignatureAlgorithms) {
    const std::string name(signature_algorithm_name(a));
    names.insert(name);
    SignatureAlgorithm back;
    ASSERT_TRUE(parse_signature_algorithm(name, back));
    EXPECT_EQ(back, a);
  }
  EXPECT_EQ(names.size(), 6u);
  SignatureAlgorithm x;
  EXPECT_FALSE(parse_signature_algorithm("EcdsaP521Sha512", x));
  EXPECT_EQ(signature_size(SignatureAlgorithm::kEd25519), 64u);
  EXPECT_EQ(signature_size(SignatureAlgorithm::kEcdsaP256), 64u);
  EXPECT_EQ(signature_size(SignatureAlgorithm::kHmac), 32u);
  EXPECT_EQ(signature_size(SignatureAlgorithm::kEcdsaP384), 96u);
  EXPECT_EQ(signature_size(SignatureAlgorithm::kEcdsaBrainpoolP256r1), 64u);
  EXPECT_EQ(signature_size(SignatureAlgorithm::kEcdsaBrainpoolP384r1), 96u);
  // Same numbering as the wire contract's SignatureAlg (schemas/common.fbs).
  EXPECT_EQ(static_cast<int>(SignatureAlgorithm::kEcdsaP384), 3);
  EXPECT_EQ(static_cast<int>(SignatureAlgorithm::kEcdsaBrainpoolP256r1), 4);
  EXPECT_EQ(static_cast<int>(SignatureAlgorithm::kEcdsaBrainpoolP384r1), 5);
}

TEST(Signing, GeneratedKeysSignAndVerifyEverywhere) {
  for (SignatureAlgorithm a : kSignatureAlgorithms) {
    SCOPED_TRACE(std::string(signature_algorithm_name(a)));
    const auto k = SigningKey::generate(a);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->alg(), a);
    const auto k2 = SigningKey::generate(a);
    ASSERT_TRUE(k2);
    if (a == SignatureAlgorithm::kHmac) {
      EXPECT_EQ(k->secret().size(), 32u);
      EXPECT_NE(k->secret(), k2->secret());
      EXPECT_TRUE(k->private_key_pem().empty());
    } else {
      EXPECT_NE(k->public_key(), k2->public_key());
      // PEM round trip.
      const auto back = SigningKey::from_pem(k->private_key_pem());
      ASSERT_TRUE(back);
      EXPECT_EQ(back->alg(), a);
      EXPECT_EQ(back->public_key(), k->public_key());
      EXPECT_NE(k->public_key_pem().find("BEGIN PUBLIC KEY"), std::string::npos);
    }
    for (size_t len : {size_t{0}, size_t{1}, size_t{200}}) {
      std::vector<uint8_t> msg(len, 0x5a);
      std::vector<uint8_t> sig;
      ASSERT_TRUE(k->sign(msg, sig));
      EXPECT_EQ(sig.size(), signature_size(a));
      EXPECT_TRUE(verify_with_public_key(
          a, a == SignatureAlgorithm::kHmac ? k->secret() : k->public_key(), msg, sig));
      for (Backend b : supported_backends())
        EXPECT_TRUE(assay_verify(*k, msg, sig, b)) << backend_name(b);
      sig[sig.size() / 2] ^= 1;
      for (Backend b : supported_backends())
        EXPECT_FALSE(assay_verify(*k, msg, sig, b)) << backend_name(b);
    }
  }
}

TEST(Signing, SeededKeysAreDeterministic) {
  std::array<uint8_t, 32> seed{}, other{};
  seed[0] = 7;
  other[0] = 8;
  for (SignatureAlgorithm a : kSignatureAlgorithms) {
    SCOPED_TRACE(std::string(signature_algorithm_name(a)));
    const auto k1 = SigningKey::from_seed(a, seed);
    const auto k2 = SigningKey::from_seed(a, seed);
    const auto k3 = SigningKey::from_seed(a, other);
    ASSERT_TRUE(k1 && k2 && k3);
    EXPECT_EQ(k1->public_key(), k2->public_key());
    EXPECT_EQ(k1->secret(), k2->secret());
    if (a != SignatureAlgorithm::kHmac) {
      EXPECT_NE(k1->public_key(), k3->public_key());
    }
    const std::vector<uint8_t> m1 = {'a'}, m2 = {'b'};
    std::vector<uint8_t> s1, s2, s3;
    ASSERT_TRUE(k1->sign(m1, s1));
    ASSERT_TRUE(k2->sign(m1, s2));
    ASSERT_TRUE(k1->sign(m2, s3));
    EXPECT_EQ(s1, s2);  // same key, same message: same signature
    EXPECT_NE(s1, s3);
    if (const auto c = ecdsa_curve_of(a)) {
      // Different messages must not share the nonce (r = x(kG) differs).
      const size_t fb = ecdsa_field_bytes(*c);
      EXPECT_NE(std::vector<uint8_t>(s1.begin(), s1.begin() + static_cast<long>(fb)),
                std::vector<uint8_t>(s3.begin(), s3.begin() + static_cast<long>(fb)));
      // A seeded key exports as PKCS#8 too, and OpenSSL accepts its signatures.
      const auto back = SigningKey::from_pem(k1->private_key_pem());
      ASSERT_TRUE(back);
      EXPECT_EQ(back->public_key(), k1->public_key());
    }
    EXPECT_TRUE(verify_with_public_key(
        a, a == SignatureAlgorithm::kHmac ? k1->secret() : k1->public_key(), m1, s1));
    for (Backend b : supported_backends())
      EXPECT_TRUE(assay_verify(*k1, m1, s1, b)) << backend_name(b);
  }
}

TEST(Signing, RefusesGarbage) {
  EXPECT_FALSE(SigningKey::from_pem(""));
  EXPECT_FALSE(
      SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  // A public key is not a private key.
  const auto k = SigningKey::generate(SignatureAlgorithm::kEcdsaP384);
  ASSERT_TRUE(k);
  EXPECT_FALSE(SigningKey::from_pem(k->public_key_pem()));
  const std::vector<uint8_t> msg = {1, 2, 3};
  std::vector<uint8_t> sig;
  ASSERT_TRUE(k->sign(msg, sig));
  EXPECT_FALSE(verify_with_public_key(SignatureAlgorithm::kEcdsaP256, k->public_key(), msg, sig));
  EXPECT_FALSE(
      verify_with_public_key(SignatureAlgorithm::kEcdsaP384, std::vector<uint8_t>{4, 1}, msg, sig));
  EXPECT_FALSE(verify_with_public_key(SignatureAlgorithm::kEd25519, k->public_key(), msg, sig));
}

// Ed25519 signs through libsodium where it can (crypto/signing.cpp): for keys of every origin
// (generated, seeded, read from PEM) and messages of every size class, the signature is byte
// for byte what OpenSSL's EVP_DigestSign gives for the same key (RFC 8032 is deterministic), and
// OpenSSL verifies it; a flipped message bit does not verify.
TEST(Signing, Ed25519SignaturesAreOpenSslsByteForByte) {
  std::array<uint8_t, 32> seed{};
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(7 * i + 1);
  const auto generated = SigningKey::generate(SignatureAlgorithm::kEd25519);
  const auto seeded = SigningKey::from_seed(SignatureAlgorithm::kEd25519, seed);
  ASSERT_TRUE(generated && seeded);
  const auto from_pem = SigningKey::from_pem(generated->private_key_pem());
  ASSERT_TRUE(from_pem);
  for (const SigningKey* k : {generated.get(), seeded.get(), from_pem.get()}) {
    EXPECT_EQ(k->signer(), "libsodium");
    const std::string pem = k->private_key_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ASSERT_NE(pkey, nullptr);
    for (size_t len : {0, 1, 63, 64, 200, 1000, 65536}) {
      std::vector<uint8_t> msg(len);
      for (size_t i = 0; i < len; ++i) msg[i] = static_cast<uint8_t>(i * 31 + len);
      std::vector<uint8_t> sig;
      ASSERT_TRUE(k->sign(msg, sig));
      ASSERT_EQ(sig.size(), 64u);
      std::array<uint8_t, 64> want{};
      size_t wl = want.size();
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      ASSERT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
      ASSERT_EQ(EVP_DigestSign(ctx, want.data(), &wl, msg.data(), msg.size()), 1);
      EVP_MD_CTX_free(ctx);
      EXPECT_TRUE(std::equal(sig.begin(), sig.end(), want.begin())) << len << " bytes";
      EXPECT_TRUE(verify_with_public_key(SignatureAlgorithm::kEd25519, k->public_key(), msg, sig));
      if (len > 0) {
        msg[len / 2] ^= 0x01;
        EXPECT_FALSE(
            verify_with_public_key(SignatureAlgorithm::kEd25519, k->public_key(), msg, sig));
      }
    }
    EVP_PKEY_free(pkey);
  }
  // Two keys signing alternately on one thread keep their own signatures.
  std::vector<uint8_t> a, b;
  const std::vector<uint8_t> msg = {1, 2, 3};
  ASSERT_TRUE(generated->sign(msg, a));
  ASSERT_TRUE(seeded->sign(msg, b));
  EXPECT_NE(a, b);
  EXPECT_TRUE(
      verify_with_public_key(SignatureAlgorithm::kEd25519, generated->public_key(), msg, a));
  EXPECT_TRUE(verify_with_public_key(SignatureAlgorithm::kEd25519, seeded->public_key(), msg, b));
}

}  // namespace
}  // namespace assay::crypto
