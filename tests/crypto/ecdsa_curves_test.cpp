// ECDSA through the generic API (crypto/ecdsa.hpp) on P-256, P-384, brainpoolP256r1 and
// brainpoolP384r1: Wycheproof (DER and P1363) on every backend, single and batched; key parsing
// in every accepted form and every refusal; a differential test against OpenSSL; garbage.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/ec_engine.hpp"
#include "crypto/ecdsa.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "tests/crypto/json_mini.hpp"

namespace assay::crypto {
namespace {

const char* openssl_name(EcdsaCurve c) {
  switch (c) {
    case EcdsaCurve::kP256:
      return "P-256";
    case EcdsaCurve::kP384:
      return "P-384";
    case EcdsaCurve::kBrainpoolP256r1:
      return "brainpoolP256r1";
    case EcdsaCurve::kBrainpoolP384r1:
      return "brainpoolP384r1";
  }
  return "";
}

const EVP_MD* md_of(EcdsaCurve c) {
  return ecdsa_field_bytes(c) == 32 ? EVP_sha256() : EVP_sha384();
}

std::vector<Backend> backends_with_auto() {
  std::vector<Backend> b = supported_backends();
#ifdef ASSAY_SANITIZED
  // kAvx2 runs kPortable's code and kAuto another backend's: the sanitizer build skips them.
  std::erase(b, Backend::kAvx2);
#else
  b.push_back(Backend::kAuto);
#endif
  return b;
}

std::string hex_of(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

// ---- Wycheproof ------------------------------------------------------------------------------

struct Case {
  size_t group;
  std::vector<uint8_t> msg, sig;
  std::string result, id;
};

void run_wycheproof(EcdsaCurve curve, const std::string& file, EcdsaSignatureFormat format) {
  const auto doc = json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/wycheproof/" + file);
  std::vector<std::optional<EcdsaPublicKey>> keys;
  std::vector<Case> cases;
  for (const auto& g : doc["testGroups"].array) {
    const auto raw = json_mini::hex_decode(g["publicKey"]["uncompressed"].str());
    EcdsaKeyParse k = EcdsaPublicKey::parse(curve, raw);
    ASSERT_TRUE(k) << file << ": " << ecdsa_key_error_text(k.error);
    // The same key from DER, PEM, hex DER (OCMF's form), hex SEC1 and SPKI auto-detection.
    const std::string& der_hex = g["publicKeyDer"].str();
    const std::string& pem = g["publicKeyPem"].str();
    for (const EcdsaKeyParse& other :
         {EcdsaPublicKey::parse(curve, json_mini::hex_decode(der_hex)),
          EcdsaPublicKey::parse(curve, std::string_view(pem)),
          EcdsaPublicKey::parse(curve, std::string_view(der_hex)),
          EcdsaPublicKey::parse(curve, std::string_view(g["publicKey"]["uncompressed"].str())),
          EcdsaPublicKey::parse_spki(json_mini::hex_decode(der_hex))}) {
      ASSERT_TRUE(other) << file << ": " << ecdsa_key_error_text(other.error);
      EXPECT_EQ(other.key->curve(), curve);
      EXPECT_TRUE(std::ranges::equal(other.key->uncompressed(), k.key->uncompressed()));
    }
    const size_t gi = keys.size();
    keys.push_back(k.key);
    for (const auto& t : g["tests"].array) {
      cases.push_back(Case{gi, json_mini::hex_decode(t["msg"].str()),
                           json_mini::hex_decode(t["sig"].str()), t["result"].str(),
                           file + " tcId " + std::to_string(t["tcId"].integer())});
    }
  }
  ASSERT_GT(cases.size(), 200u);
  std::vector<EcdsaJob> jobs;
  for (const Case& c : cases) {
    jobs.push_back(
        EcdsaJob{&*keys[c.group], c.sig.data(), c.sig.size(), format, c.msg.data(), c.msg.size()});
  }
  size_t valid = 0, invalid = 0;
  detail::ec_thread_counters() = {};
  for (Backend b : backends_with_auto()) {
    SCOPED_TRACE(std::string(backend_name(b)));
#ifdef ASSAY_SANITIZED
    // Single verification is a batch of one (size 1 below); the sanitizer build keeps to that.
    const size_t sizes[] = {1, 300};
#else
    for (size_t i = 0; i < cases.size(); ++i) {
      const bool got = ecdsa_verify(jobs[i], b);
      EXPECT_EQ(got, cases[i].result == "valid") << cases[i].id;
    }
    const size_t sizes[] = {1, 2, 3, 8, 9, 64, 129, 300};
#endif
    for (size_t bs : sizes) {
      // Batch k holds cases k, k + nb, ...: batches mix groups and verdicts.
      const size_t nb = (cases.size() + bs - 1) / bs;
      for (size_t k = 0; k < nb; ++k) {
        std::vector<EcdsaJob> batch;
        std::vector<size_t> idx;
        for (size_t i = k; i < cases.size(); i += nb) {
          batch.push_back(jobs[i]);
          idx.push_back(i);
        }
        std::vector<uint8_t> out(batch.size(), 2);
        ecdsa_verify_batch(curve, batch, out, b);
        for (size_t t = 0; t < idx.size(); ++t) {
          const Case& c = cases[idx[t]];
          ASSERT_EQ(out[t], c.result == "valid" ? 1 : 0) << c.id << " batch size " << bs;
        }
      }
    }
  }
  for (const Case& c : cases) {
    valid += c.result == "valid";
    invalid += c.result == "invalid";
  }
  const detail::EcCounters ctr = detail::ec_thread_counters();
  std::printf("%s: %zu valid, %zu invalid; engines decided %llu, handed %llu to the reference\n",
              file.c_str(), valid, invalid, (unsigned long long)ctr.engine,
              (unsigned long long)ctr.exact);
  EXPECT_EQ(valid + invalid, cases.size());  // no "acceptable" cases in these files
  EXPECT_GT(ctr.engine, 0u);
}

TEST(EcdsaCurves, WycheproofP256Der) {
  run_wycheproof(EcdsaCurve::kP256, "ecdsa_secp256r1_sha256_test.json", EcdsaSignatureFormat::kDer);
}
TEST(EcdsaCurves, WycheproofP384Der) {
  run_wycheproof(EcdsaCurve::kP384, "ecdsa_secp384r1_sha384_test.json", EcdsaSignatureFormat::kDer);
}
TEST(EcdsaCurves, WycheproofP384P1363) {
  run_wycheproof(EcdsaCurve::kP384, "ecdsa_secp384r1_sha384_p1363_test.json",
                 EcdsaSignatureFormat::kP1363);
}
TEST(EcdsaCurves, WycheproofBrainpoolP256r1Der) {
  run_wycheproof(EcdsaCurve::kBrainpoolP256r1, "ecdsa_brainpoolP256r1_sha256_test.json",
                 EcdsaSignatureFormat::kDer);
}
TEST(EcdsaCurves, WycheproofBrainpoolP256r1P1363) {
  run_wycheproof(EcdsaCurve::kBrainpoolP256r1, "ecdsa_brainpoolP256r1_sha256_p1363_test.json",
                 EcdsaSignatureFormat::kP1363);
}
TEST(EcdsaCurves, WycheproofBrainpoolP384r1Der) {
  run_wycheproof(EcdsaCurve::kBrainpoolP384r1, "ecdsa_brainpoolP384r1_sha384_test.json",
                 EcdsaSignatureFormat::kDer);
}
TEST(EcdsaCurves, WycheproofBrainpoolP384r1P1363) {
  run_wycheproof(EcdsaCurve::kBrainpoolP384r1, "ecdsa_brainpoolP384r1_sha384_p1363_test.json",
                 EcdsaSignatureFormat::kP1363);
}

// The exceptional-case path (an addition with P = ±Q inside the engines) is reached by
// Wycheproof's edge cases and decided by the reference.
TEST(EcdsaCurves, ExceptionalCasesReachTheReference) {
  for (auto [curve, file] :
       {std::pair{EcdsaCurve::kP384, "ecdsa_secp384r1_sha384_p1363_test.json"},
        std::pair{EcdsaCurve::kBrainpoolP256r1, "ecdsa_brainpoolP256r1_sha256_p1363_test.json"}}) {
    const auto doc = json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/wycheproof/" + file);
    detail::ec_thread_counters() = {};
    for (const auto& g : doc["testGroups"].array) {
      const auto key =
          EcdsaPublicKey::parse(curve, json_mini::hex_decode(g["publicKey"]["uncompressed"].str()));
      ASSERT_TRUE(key);
      for (const auto& t : g["tests"].array) {
        const auto msg = json_mini::hex_decode(t["msg"].str());
        const auto sig = json_mini::hex_decode(t["sig"].str());
        (void)ecdsa_verify({&*key.key, sig.data(), sig.size(), EcdsaSignatureFormat::kP1363,
                            msg.data(), msg.size()},
                           Backend::kPortable);
      }
    }
    EXPECT_GT(detail::ec_thread_counters().exact, 0u) << file;
  }
}

// ---- keys ------------------------------------------------------------------------------------

struct OsslKey {
  EVP_PKEY* pkey = nullptr;
  std::vector<uint8_t> uncompressed, compressed, spki_der;
  std::string spki_pem;
  OsslKey(const OsslKey&) = delete;
  OsslKey& operator=(const OsslKey&) = delete;
  OsslKey(OsslKey&& o) noexcept { *this = std::move(o); }
  OsslKey& operator=(OsslKey&& o) noexcept {
    std::swap(pkey, o.pkey);
    uncompressed = std::move(o.uncompressed);
    compressed = std::move(o.compressed);
    spki_der = std::move(o.spki_der);
    spki_pem = std::move(o.spki_pem);
    return *this;
  }
  OsslKey() = default;
  ~OsslKey() { EVP_PKEY_free(pkey); }
};

OsslKey make_key(EcdsaCurve c) {
  OsslKey k;
  k.pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", openssl_name(c));
  EXPECT_NE(k.pkey, nullptr);
  uint8_t pub[200];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(k.pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub,
                                  &len);
  k.uncompressed.assign(pub, pub + len);
  const size_t fb = ecdsa_field_bytes(c);
  k.compressed.assign(pub, pub + 1 + fb);
  k.compressed[0] = static_cast<uint8_t>(0x02 | (pub[len - 1] & 1));
  uint8_t* der = nullptr;
  const int dl = i2d_PUBKEY(k.pkey, &der);
  k.spki_der.assign(der, der + dl);
  OPENSSL_free(der);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k.pkey);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  k.spki_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  return k;
}

TEST(EcdsaCurves, KeyForms) {
  for (EcdsaCurve c : kEcdsaCurves) {
    SCOPED_TRACE(std::string(ecdsa_curve_name(c)));
    const OsslKey k = make_key(c);
    std::string upper = hex_of(k.uncompressed);
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const std::string spaced = "  " + hex_of(k.spki_der) + "\n";
    const std::vector<EcdsaKeyParse> forms = {
        EcdsaPublicKey::parse(c, k.uncompressed),
        EcdsaPublicKey::parse(c, k.compressed),
        EcdsaPublicKey::parse(c, k.spki_der),
        EcdsaPublicKey::parse(c, std::string_view(k.spki_pem)),
        EcdsaPublicKey::parse(c, std::string_view(hex_of(k.compressed))),
        EcdsaPublicKey::parse(c, std::string_view(upper)),
        EcdsaPublicKey::parse(c, std::string_view(spaced)),
        EcdsaPublicKey::parse_spki(k.spki_der),
        EcdsaPublicKey::parse_spki(
            std::span(reinterpret_cast<const uint8_t*>(k.spki_pem.data()), k.spki_pem.size())),
    };
    for (const EcdsaKeyParse& f : forms) {
      ASSERT_TRUE(f) << ecdsa_key_error_text(f.error);
      EXPECT_EQ(f.error, EcdsaKeyError::kNone);
      EXPECT_EQ(f.key->curve(), c);
      EXPECT_TRUE(std::ranges::equal(f.key->uncompressed(), k.uncompressed));
      EXPECT_EQ(f.key->p256() != nullptr, c == EcdsaCurve::kP256);
    }
    EcdsaCurve parsed;
    ASSERT_TRUE(parse_ecdsa_curve(ecdsa_curve_name(c), parsed));
    EXPECT_EQ(parsed, c);
  }
  EcdsaCurve parsed;
  EXPECT_TRUE(parse_ecdsa_curve("secp256r1", parsed) && parsed == EcdsaCurve::kP256);
  EXPECT_TRUE(parse_ecdsa_curve("PRIME256V1", parsed) && parsed == EcdsaCurve::kP256);
  EXPECT_TRUE(parse_ecdsa_curve("secp384r1", parsed) && parsed == EcdsaCurve::kP384);
  EXPECT_FALSE(parse_ecdsa_curve("secp521r1", parsed));
}

TEST(EcdsaCurves, KeyRefusals) {
  const OsslKey p256 = make_key(EcdsaCurve::kP256);
  const OsslKey p384 = make_key(EcdsaCurve::kP384);
  const OsslKey bp256 = make_key(EcdsaCurve::kBrainpoolP256r1);
  auto err = [](EcdsaCurve c, std::span<const uint8_t> b) {
    return EcdsaPublicKey::parse(c, b).error;
  };
  EXPECT_EQ(err(EcdsaCurve::kP256, {}), EcdsaKeyError::kEmpty);
  EXPECT_EQ(err(EcdsaCurve::kP256, std::vector<uint8_t>(20000, 0x30)), EcdsaKeyError::kTooLong);
  EXPECT_EQ(err(EcdsaCurve::kP256, std::vector<uint8_t>{1, 2, 3}), EcdsaKeyError::kUnrecognized);
  EXPECT_EQ(EcdsaPublicKey::parse(EcdsaCurve::kP256, std::string_view("04zz")).error,
            EcdsaKeyError::kUnrecognized);
  // Off the curve; the point at infinity; a compressed x with no point.
  std::vector<uint8_t> off = p384.uncompressed;
  off.back() ^= 1;
  EXPECT_EQ(err(EcdsaCurve::kP384, off), EcdsaKeyError::kBadPoint);
  EXPECT_EQ(err(EcdsaCurve::kP384, std::vector<uint8_t>{0x00}), EcdsaKeyError::kUnrecognized);
  std::vector<uint8_t> cx(33, 0);
  cx[0] = 0x02;
  cx[32] = 5;  // x = 5 is not the x of a P-256 point with this parity ... or any point: check
  const EcdsaKeyError cx_err = err(EcdsaCurve::kP256, cx);
  EXPECT_TRUE(cx_err == EcdsaKeyError::kBadPoint || cx_err == EcdsaKeyError::kNone);
  std::vector<uint8_t> big_x(33, 0xff);  // x >= p
  big_x[0] = 0x03;
  EXPECT_EQ(err(EcdsaCurve::kP256, big_x), EcdsaKeyError::kBadPoint);
  // The same bytes are a point of brainpoolP256r1 only by chance: a P-256 point is refused
  // there (it is not on that curve).
  EXPECT_NE(err(EcdsaCurve::kBrainpoolP256r1, p256.uncompressed), EcdsaKeyError::kNone);
  // Another curve's key: by size (SEC1) and by name (SubjectPublicKeyInfo).
  EXPECT_EQ(err(EcdsaCurve::kP256, p384.uncompressed), EcdsaKeyError::kWrongCurve);
  EXPECT_EQ(err(EcdsaCurve::kP256, p384.spki_der), EcdsaKeyError::kWrongCurve);
  EXPECT_EQ(err(EcdsaCurve::kBrainpoolP256r1, p256.spki_der), EcdsaKeyError::kWrongCurve);
  EXPECT_EQ(err(EcdsaCurve::kP256, bp256.spki_der), EcdsaKeyError::kWrongCurve);
  // Not an EC key (Ed25519), another EC curve (P-521), explicit parameters.
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  uint8_t* der = nullptr;
  int dl = i2d_PUBKEY(ed, &der);
  EXPECT_EQ(err(EcdsaCurve::kP256, std::span<const uint8_t>(der, dl)),
            EcdsaKeyError::kUnsupportedKey);
  EXPECT_EQ(EcdsaPublicKey::parse_spki(std::span<const uint8_t>(der, dl)).error,
            EcdsaKeyError::kUnsupportedKey);
  OPENSSL_free(der);
  EVP_PKEY_free(ed);
  EVP_PKEY* p521 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
  der = nullptr;
  dl = i2d_PUBKEY(p521, &der);
  EXPECT_EQ(EcdsaPublicKey::parse_spki(std::span<const uint8_t>(der, dl)).error,
            EcdsaKeyError::kUnsupportedKey);
  OPENSSL_free(der);
  EVP_PKEY_free(p521);
  EVP_PKEY* explicit_key = nullptr;
  {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>("P-256"), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, const_cast<char*>("explicit"),
                                         0),
        OSSL_PARAM_construct_end()};
    ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_params(ctx, params), 1);
    ASSERT_EQ(EVP_PKEY_keygen(ctx, &explicit_key), 1);
    EVP_PKEY_CTX_free(ctx);
  }
  der = nullptr;
  dl = i2d_PUBKEY(explicit_key, &der);
  EXPECT_EQ(err(EcdsaCurve::kP256, std::span<const uint8_t>(der, dl)),
            EcdsaKeyError::kUnsupportedKey);
  OPENSSL_free(der);
  EVP_PKEY_free(explicit_key);
  // Trailing bytes after a SubjectPublicKeyInfo.
  std::vector<uint8_t> trailing = p256.spki_der;
  trailing.push_back(0);
  EXPECT_NE(err(EcdsaCurve::kP256, trailing), EcdsaKeyError::kNone);
}

// ---- signatures ------------------------------------------------------------------------------

TEST(EcdsaCurves, DerParserIsStrictFor48ByteScalars) {
  uint8_t out[96];
  std::vector<uint8_t> ok = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
  EXPECT_TRUE(ecdsa_der_to_rs(ok, 48, out));
  EXPECT_EQ(out[47], 1);
  EXPECT_EQ(out[95], 2);
  // 49-byte INTEGER with a leading zero (a 384-bit value with the top bit set): accepted.
  std::vector<uint8_t> big = {0x30, 0x36, 0x02, 0x31, 0x00};
  big.insert(big.end(), 48, 0x80);
  big.insert(big.end(), {0x02, 0x01, 0x01});
  EXPECT_TRUE(ecdsa_der_to_rs(big, 48, out));
  EXPECT_EQ(out[0], 0x80);
  // The same for 32-byte scalars is too long.
  EXPECT_FALSE(ecdsa_der_to_rs(big, 32, out));
  // 49 significant bytes: too long.
  std::vector<uint8_t> too = {0x30, 0x36, 0x02, 0x31, 0x01};
  too.insert(too.end(), 48, 0x11);
  too.insert(too.end(), {0x02, 0x01, 0x01});
  EXPECT_FALSE(ecdsa_der_to_rs(too, 48, out));
  // Long-form length where the short form fits.
  EXPECT_FALSE(ecdsa_der_to_rs(
      std::vector<uint8_t>{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, 48, out));
  EXPECT_FALSE(ecdsa_der_to_rs(ok, 33, out));  // unsupported size
}

// ---- differential ----------------------------------------------------------------------------

size_t diff_count() {
  if (const char* e = std::getenv("ASSAY_EC_DIFF_COUNT")) return std::strtoull(e, nullptr, 10);
#ifdef ASSAY_SANITIZED
  return 120;
#else
  return 2400;
#endif
}

// Independent reference: OpenSSL EVP_DigestVerify with the DER encoding of r‖s (any other
// length is invalid).
bool reference(EVP_PKEY* pk, EcdsaCurve c, const std::vector<uint8_t>& rs,
               const std::vector<uint8_t>& msg) {
  const size_t fb = ecdsa_field_bytes(c);
  if (rs.size() != 2 * fb) return false;
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(rs.data(), static_cast<int>(fb), nullptr),
                 BN_bin2bn(rs.data() + fb, static_cast<int>(fb), nullptr));
  uint8_t* der = nullptr;
  const int dl = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const uint8_t dummy = 0;
  const bool ok = dl > 0 && EVP_DigestVerifyInit(ctx, nullptr, md_of(c), nullptr, pk) == 1 &&
                  EVP_DigestVerify(ctx, der, static_cast<size_t>(dl),
                                   msg.empty() ? &dummy : msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

std::vector<uint8_t> sign(EVP_PKEY* pk, EcdsaCurve c, const std::vector<uint8_t>& msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t der[160];
  size_t dl = sizeof der;
  const uint8_t dummy = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, md_of(c), nullptr, pk), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, der, &dl, msg.empty() ? &dummy : msg.data(), msg.size()), 1);
  EVP_MD_CTX_free(ctx);
  std::vector<uint8_t> rs(2 * ecdsa_field_bytes(c));
  EXPECT_TRUE(ecdsa_der_to_rs(std::span<const uint8_t>(der, dl), ecdsa_field_bytes(c), rs.data()));
  return rs;
}

std::vector<uint8_t> to_der(const std::vector<uint8_t>& rs) {
  const size_t fb = rs.size() / 2;
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(rs.data(), static_cast<int>(fb), nullptr),
                 BN_bin2bn(rs.data() + fb, static_cast<int>(fb), nullptr));
  uint8_t* der = nullptr;
  const int dl = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  std::vector<uint8_t> out(der, der + std::max(dl, 0));
  OPENSSL_free(der);
  return out;
}

TEST(EcdsaCurves, DifferentialVsOpenSsl) {
  const size_t total = diff_count();
  constexpr size_t kPerChunk = 120;
  const size_t chunks = (total + kPerChunk - 1) / kPerChunk;
  std::atomic<size_t> failures{0}, checked{0}, valid_count{0};
  for (EcdsaCurve curve :
       {EcdsaCurve::kP384, EcdsaCurve::kBrainpoolP256r1, EcdsaCurve::kBrainpoolP384r1}) {
    const size_t fb = ecdsa_field_bytes(curve);
    tbb::parallel_for(
        tbb::blocked_range<size_t>(0, chunks, 1), [&](const tbb::blocked_range<size_t>& rr) {
          for (size_t chunk = rr.begin(); chunk != rr.end(); ++chunk) {
            std::mt19937_64 rng(0xcafe + chunk * 7 + static_cast<size_t>(curve));
            const size_t n = std::min(kPerChunk, total - chunk * kPerChunk);
            std::vector<OsslKey> ossl;
            std::vector<EcdsaPublicKey> keys;
            for (int k = 0; k < 6; ++k) {
              ossl.push_back(make_key(curve));
              keys.push_back(*EcdsaPublicKey::parse(curve, ossl.back().uncompressed).key);
            }
            std::vector<std::vector<uint8_t>> msgs(n), rs(n), sigs(n);
            std::vector<size_t> key_of(n);
            std::vector<uint8_t> expect(n);
            std::vector<EcdsaSignatureFormat> fmt(n);
            for (size_t i = 0; i < n; ++i) {
              const size_t ki = rng() % keys.size();
              msgs[i].resize(rng() % 150);
              for (auto& x : msgs[i]) x = static_cast<uint8_t>(rng());
              rs[i] = sign(ossl[ki].pkey, curve, msgs[i]);
              size_t use_key = ki;
              switch (rng() % 12) {
                case 0:
                  rs[i][rng() % fb] ^= static_cast<uint8_t>(1u << (rng() % 8));
                  break;  // r
                case 1:
                  rs[i][fb + rng() % fb] ^= static_cast<uint8_t>(1u << (rng() % 8));
                  break;  // s
                case 2:
                  msgs[i].push_back(1);
                  break;
                case 3:
                  use_key = (ki + 1) % keys.size();
                  break;
                case 4:
                  std::fill(rs[i].begin(), rs[i].begin() + static_cast<long>(fb), 0);
                  break;  // r = 0
                case 5:
                  std::fill(rs[i].begin() + static_cast<long>(fb), rs[i].end(), 0xff);
                  break;   // s >= n
                case 6: {  // high/low-S twin: s -> n - s (still valid)
                  BIGNUM* s = BN_bin2bn(rs[i].data() + fb, static_cast<int>(fb), nullptr);
                  EC_GROUP* g = EC_GROUP_new_by_curve_name(
                      curve == EcdsaCurve::kP384              ? NID_secp384r1
                      : curve == EcdsaCurve::kBrainpoolP256r1 ? NID_brainpoolP256r1
                                                              : NID_brainpoolP384r1);
                  BN_sub(s, EC_GROUP_get0_order(g), s);
                  BN_bn2binpad(s, rs[i].data() + fb, static_cast<int>(fb));
                  BN_free(s);
                  EC_GROUP_free(g);
                  break;
                }
                case 7:
                  rs[i].resize(2 * fb - 1);
                  break;  // P1363 length
                default:
                  break;
              }
              key_of[i] = use_key;
              expect[i] = reference(ossl[use_key].pkey, curve, rs[i], msgs[i]) ? 1 : 0;
              valid_count += expect[i];
              fmt[i] = (rng() % 2 != 0 && rs[i].size() == 2 * fb) ? EcdsaSignatureFormat::kDer
                                                                  : EcdsaSignatureFormat::kP1363;
              sigs[i] = fmt[i] == EcdsaSignatureFormat::kDer ? to_der(rs[i]) : rs[i];
            }
            std::vector<EcdsaJob> jobs(n);
            for (size_t i = 0; i < n; ++i) {
              jobs[i] = EcdsaJob{&keys[key_of[i]], sigs[i].data(), sigs[i].size(),
                                 fmt[i],           msgs[i].data(), msgs[i].size()};
            }
            for (Backend b : backends_with_auto()) {
              if (b == Backend::kOpenSSL && chunk % 8 != 0) continue;  // the slow reference wrapper
              std::vector<uint8_t> v(n, 2);
              for (size_t off = 0, bs = 1 + chunk % 37; off < n; off += bs, bs = bs % 40 + 1) {
                const size_t m = std::min(bs, n - off);
                ecdsa_verify_batch(curve, std::span(jobs).subspan(off, m),
                                   std::span(v).subspan(off, m), b);
              }
              for (size_t i = 0; i < n; ++i) {
                if (v[i] != expect[i] && failures.fetch_add(1) < 20) {
                  ADD_FAILURE() << ecdsa_curve_name(curve) << " backend " << backend_name(b)
                                << " chunk " << chunk << " case " << i << " sig " << hex_of(sigs[i])
                                << " expect " << int(expect[i]) << " got " << int(v[i]);
                }
              }
            }
            checked += n;
          }
        });
  }
  std::printf("ECDSA curves differential: %zu cases (%zu valid)\n", checked.load(),
              valid_count.load());
  EXPECT_EQ(failures.load(), 0u);
}

// ---- garbage ---------------------------------------------------------------------------------

TEST(EcdsaCurves, GarbageNeverCrashes) {
  std::mt19937_64 rng(7);
  for (EcdsaCurve c : kEcdsaCurves) {
    const OsslKey k = make_key(c);
    const EcdsaKeyParse good = EcdsaPublicKey::parse(c, k.uncompressed);
    ASSERT_TRUE(good);
    const EcdsaKeyParse other = EcdsaPublicKey::parse(
        c == EcdsaCurve::kP384 ? EcdsaCurve::kP256 : EcdsaCurve::kP384,
        make_key(c == EcdsaCurve::kP384 ? EcdsaCurve::kP256 : EcdsaCurve::kP384).uncompressed);
    ASSERT_TRUE(other);
#ifdef ASSAY_SANITIZED
    const int iters = 150;
#else
    const int iters = 600;
#endif
    for (int iter = 0; iter < iters; ++iter) {
      std::vector<uint8_t> bytes(rng() % 200);
      for (auto& x : bytes) x = static_cast<uint8_t>(rng());
      switch (iter % 5) {
        case 0:
          bytes = k.uncompressed;
          bytes[rng() % bytes.size()] ^= 1;
          break;
        case 1:
          bytes = k.spki_der;
          bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(rng());
          break;
        case 2:
          bytes.insert(bytes.begin(), {0x30, 0x81});
          break;
        default:
          break;
      }
      const EcdsaKeyParse key = EcdsaPublicKey::parse(c, bytes);
      (void)EcdsaPublicKey::parse_spki(bytes);
      const EcdsaPublicKey* kp = key ? &*key.key : &*good.key;
      std::vector<uint8_t> sig(rng() % 120);
      for (auto& x : sig) x = static_cast<uint8_t>(rng());
      if (iter % 3 == 0 && sig.size() > 2) {
        sig[0] = 0x30;
        sig[1] = static_cast<uint8_t>(sig.size() - 2);
      }
      const EcdsaJob jobs[3] = {
          {kp, sig.data(), sig.size(), EcdsaSignatureFormat::kDer, bytes.data(), bytes.size()},
          {kp, sig.data(), sig.size(), EcdsaSignatureFormat::kP1363, nullptr, 0},
          {&*other.key, sig.data(), sig.size(), EcdsaSignatureFormat::kP1363, nullptr, 0}};
      for (Backend b : supported_backends()) {
        uint8_t v[4] = {2, 2, 2, 2};
        ecdsa_verify_batch(c, jobs, v, b);
        EXPECT_EQ(v[0], 0);
        EXPECT_EQ(v[1], 0);
        EXPECT_EQ(v[2], 0);  // key of another curve
        EXPECT_EQ(v[3], 0);  // surplus verdict
      }
    }
    // Null key, null signature, null message with a length, a bad format value.
    uint8_t sig[96] = {};
    for (Backend b : supported_backends()) {
      EXPECT_FALSE(ecdsa_verify({nullptr, sig, 64, EcdsaSignatureFormat::kP1363, nullptr, 0}, b));
      EXPECT_FALSE(
          ecdsa_verify({&*good.key, nullptr, 64, EcdsaSignatureFormat::kP1363, nullptr, 0}, b));
      EXPECT_FALSE(
          ecdsa_verify({&*good.key, sig, 64, EcdsaSignatureFormat::kP1363, nullptr, 5}, b));
      EXPECT_FALSE(
          ecdsa_verify({&*good.key, sig, 64, static_cast<EcdsaSignatureFormat>(9), nullptr, 0}, b));
      ecdsa_verify_batch(c, {}, {}, b);
    }
  }
}

}  // namespace
}  // namespace assay::crypto
