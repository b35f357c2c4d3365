// ECDSA P-256/SHA-256: Wycheproof (P1363 and DER), differential tests against OpenSSL, garbage
// inputs; every backend, single and batch, with and without per-key comb tables.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
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

#include "crypto/ecdsa_p256.hpp"
#include "crypto/ecdsa_p256_internal.hpp"
#include "tests/crypto/json_mini.hpp"

namespace assay::crypto {
namespace {

constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

// Per-key table policies exercised by the tests (restored to the default afterwards).
struct TablePolicy {
  const char* name;
  uint32_t small_after;
  uint32_t comb_after;
};
// "openssl": no key ever gets a table (every kPortable verification goes to OpenSSL);
// "small": every key gets the small Lim-Lee table at once, never the comb;
// "comb": every key gets its comb table at once;
// "default": the production policy (OpenSSL, small, comb mixed within one run).
constexpr TablePolicy kPolicies[] = {{"openssl", UINT32_MAX, UINT32_MAX},
                                     {"small", 0, UINT32_MAX},
                                     {"comb", UINT32_MAX, 0},
                                     {"default", detail::kSmallAfterUses, detail::kCombAfterUses}};

struct PolicyGuard {
  PolicyGuard(uint32_t small_after, uint32_t comb_after) {
    detail::p256_set_table_policy(small_after, comb_after);
  }
  ~PolicyGuard() {
    detail::p256_set_table_policy(detail::kSmallAfterUses, detail::kCombAfterUses);
  }
};

struct EcCase {
  size_t group;
  std::vector<uint8_t> msg, sig;  // sig: P1363 (64 bytes) or whatever the DER converter gave
  bool sig_ok;                    // DER parsed (always true for P1363 cases of any length)
  std::string result;             // valid / invalid / acceptable
  std::string id;
};

struct EcVectors {
  std::vector<std::optional<EcdsaP256PublicKey>> keys;  // per group
  std::vector<std::vector<uint8_t>> key_bytes;          // uncompressed, per group
  std::vector<EcCase> cases;
};

EcVectors load(const std::string& file, bool der) {
  const auto doc = json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/wycheproof/" + file);
  EcVectors v;
  for (const auto& g : doc["testGroups"].array) {
    const size_t gi = v.keys.size();
    const auto raw = json_mini::hex_decode(g["publicKey"]["uncompressed"].str());
    v.key_bytes.push_back(raw);
    v.keys.push_back(EcdsaP256PublicKey::parse(raw));
    // The DER and PEM forms must parse to the same key.
    if (v.keys.back()) {
      const auto spki = json_mini::hex_decode(g["publicKeyDer"].str());
      const auto from_der = EcdsaP256PublicKey::parse(spki);
      EXPECT_TRUE(from_der && from_der->uncompressed() == v.keys.back()->uncompressed());
      const std::string& pem = g["publicKeyPem"].str();
      const auto from_pem = EcdsaP256PublicKey::parse(
          std::span(reinterpret_cast<const uint8_t*>(pem.data()), pem.size()));
      EXPECT_TRUE(from_pem && from_pem->uncompressed() == v.keys.back()->uncompressed());
    }
    for (const auto& t : g["tests"].array) {
      EcCase c;
      c.group = gi;
      c.msg = json_mini::hex_decode(t["msg"].str());
      const auto sig = json_mini::hex_decode(t["sig"].str());
      c.sig_ok = true;
      if (der) {
        c.sig.resize(64);
        c.sig_ok = ecdsa_der_to_p1363(sig, c.sig.data());
      } else {
        c.sig = sig;
      }
      c.result = t["result"].str();
      c.id = file + " tcId " + std::to_string(t["tcId"].integer());
      v.cases.push_back(std::move(c));
    }
  }
  return v;
}

void run_wycheproof(const std::string& file, bool der) {
  EcVectors v = load(file, der);
  ASSERT_GT(v.cases.size(), 100u);
  std::vector<int> reference(v.cases.size(), -1);
  size_t valid = 0, invalid = 0, acceptable = 0;
  for (const auto& policy : kPolicies) {
    PolicyGuard guard(policy.small_after, policy.comb_after);
    // Fresh keys per policy, so that each policy decides whether tables get built.
    std::vector<std::optional<EcdsaP256PublicKey>> keys;
    for (const auto& raw : v.key_bytes) keys.push_back(EcdsaP256PublicKey::parse(raw));
    std::vector<EcdsaP256Job> jobs;
    std::vector<bool> usable;
    for (const auto& c : v.cases) {
      const EcdsaP256PublicKey* k = keys[c.group] ? &*keys[c.group] : nullptr;
      jobs.push_back(EcdsaP256Job{k, c.sig.data(), c.sig_ok ? c.sig.size() : 0, c.msg.data(),
                                  c.msg.size()});
    }
    for (Backend b : supported_backends()) {
      SCOPED_TRACE(std::string(backend_name(b)) + "/" + policy.name);
      for (size_t i = 0; i < v.cases.size(); ++i) {
        const EcCase& c = v.cases[i];
        const bool got = ecdsa_p256_verify(jobs[i], b);
        if (c.result == "valid") {
          EXPECT_TRUE(got) << c.id;
        } else if (c.result == "invalid") {
          EXPECT_FALSE(got) << c.id;
        }
        if (!keys[c.group]) {
          EXPECT_FALSE(got) << c.id << " (key did not parse)";
        }
        if (reference[i] < 0) reference[i] = got;
        EXPECT_EQ(got, reference[i] != 0) << c.id << " differs between paths";
      }
#ifdef ASSAY_SANITIZED
      const size_t sizes[] = {7, 300};  // keeps the sanitizer run short (single = size 1)
#else
      const size_t sizes[] = {1, 2, 3, 8, 31, 64, 127, 128, 129, 256, 300};
#endif
      for (size_t bs : sizes) {
        std::vector<uint8_t> verdicts(v.cases.size(), 2);
        // Interleave: batch k holds cases k, k + nb, k + 2nb, ... so batches mix groups and
        // valid/invalid cases.
        const size_t nb = (v.cases.size() + bs - 1) / bs;
        for (size_t k = 0; k < nb; ++k) {
          std::vector<EcdsaP256Job> batch;
          std::vector<size_t> idx;
          for (size_t i = k; i < v.cases.size(); i += nb) {
            batch.push_back(jobs[i]);
            idx.push_back(i);
          }
          std::vector<uint8_t> out(batch.size(), 2);
          ecdsa_p256_verify_batch(batch, out, b);
          for (size_t t = 0; t < idx.size(); ++t) verdicts[idx[t]] = out[t];
        }
        for (size_t i = 0; i < v.cases.size(); ++i) {
          ASSERT_EQ(verdicts[i], reference[i]) << v.cases[i].id << " batch size " << bs;
        }
      }
    }
  }
  for (const auto& c : v.cases) {
    valid += c.result == "valid";
    invalid += c.result == "invalid";
    acceptable += c.result == "acceptable";
  }
  std::printf("%s: %zu valid, %zu invalid, %zu acceptable\n", file.c_str(), valid, invalid,
              acceptable);
}

TEST(EcdsaP256, WycheproofP1363) { run_wycheproof("ecdsa_secp256r1_sha256_p1363_test.json", false); }
TEST(EcdsaP256, WycheproofDer) { run_wycheproof("ecdsa_secp256r1_sha256_test.json", true); }

TEST(EcdsaP256, DerParserIsStrict) {
  uint8_t out[64];
  auto parse = [&](std::vector<uint8_t> d) { return ecdsa_der_to_p1363(d, out); };
  EXPECT_TRUE(parse({0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}));
  EXPECT_EQ(out[31], 1);
  EXPECT_EQ(out[63], 2);
  EXPECT_TRUE(parse({0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x02}));  // 0x0080
  EXPECT_EQ(out[31], 0x80);
  EXPECT_FALSE(parse({0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}));  // long form
  EXPECT_FALSE(parse({0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0, 0}));  // indefinite
  EXPECT_FALSE(parse({0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02}));  // non-minimal
  EXPECT_FALSE(parse({0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02}));        // negative
  EXPECT_FALSE(parse({0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00}));  // trailing
  EXPECT_FALSE(parse({0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00}));  // extra inside
  EXPECT_FALSE(parse({0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x00}));              // empty INTEGER
  EXPECT_FALSE(parse({0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}));        // SET
  EXPECT_FALSE(parse({0x30, 0x06, 0x03, 0x01, 0x01, 0x02, 0x01, 0x02}));        // BIT STRING
  EXPECT_FALSE(parse({}));
  std::vector<uint8_t> big = {0x30, 0x25, 0x02, 0x21, 0x01};  // 33-byte positive integer
  big.resize(2 + 2 + 33, 0x11);
  big.insert(big.end(), {0x02, 0x01, 0x01});
  big[1] = static_cast<uint8_t>(big.size() - 2);
  EXPECT_FALSE(parse(big));
}

// ---- differential ----------------------------------------------------------------------------

size_t diff_count() {
  if (const char* e = std::getenv("ASSAY_DIFF_COUNT")) return std::strtoull(e, nullptr, 10);
#ifdef ASSAY_SANITIZED
  return 20'000;
#else
  return 250'000;  // the suite's default; set ASSAY_DIFF_COUNT for a deeper run
#endif
}

struct RefKey {
  EVP_PKEY* pkey = nullptr;
  std::vector<uint8_t> priv;
  std::optional<EcdsaP256PublicKey> key;
};

// Independent reference: OpenSSL EVP_DigestVerify over the message with the DER encoding of
// r||s; anything but a 64-byte signature is invalid by Assay's contract.
bool reference_verify(EVP_PKEY* pkey, const std::vector<uint8_t>& sig,
                      const std::vector<uint8_t>& msg) {
  if (sig.size() != 64) return false;
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
  uint8_t* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const uint8_t dummy = 0;
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                                   msg.empty() ? &dummy : msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

// Signs with an already decoded key (ecdsa_p256_sign decodes the DER key on every call).
bool sign_with(EVP_PKEY* pkey, const std::vector<uint8_t>& msg, uint8_t sig[64]) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t der[80];
  size_t der_len = sizeof der;
  const uint8_t dummy = 0;
  const bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                  EVP_DigestSign(ctx, der, &der_len, msg.empty() ? &dummy : msg.data(),
                                 msg.size()) == 1 &&
                  ecdsa_der_to_p1363(std::span<const uint8_t>(der, der_len), sig);
  EVP_MD_CTX_free(ctx);
  return ok;
}

void set_scalar(uint8_t* dst, std::mt19937_64& rng, int kind) {
  switch (kind) {
    case 0: std::memset(dst, 0, 32); break;                // 0
    case 1: std::memcpy(dst, kOrder, 32); break;           // n
    case 2: {                                              // n + small
      std::memcpy(dst, kOrder, 32);
      dst[31] = static_cast<uint8_t>(dst[31] + 1 + rng() % 100);
      break;
    }
    case 3: std::memset(dst, 0xff, 32); break;             // 2^256 - 1
    case 4: {                                              // n - 1
      std::memcpy(dst, kOrder, 32);
      dst[31] = static_cast<uint8_t>(dst[31] - 1);
      break;
    }
    default: {                                             // 1
      std::memset(dst, 0, 32);
      dst[31] = 1;
    }
  }
}

void negate_s(uint8_t* sig) {  // s -> n - s (high/low S twin: still valid)
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kOrder[i] - sig[32 + i] - borrow;
    borrow = d < 0;
    sig[32 + i] = static_cast<uint8_t>(d + (borrow ? 256 : 0));
  }
}

TEST(EcdsaP256, DifferentialVsOpenSsl) {
  const size_t total = diff_count();
  constexpr size_t kPerChunk = 2000;
  constexpr size_t kMaxBatch = 300;  // > the internal chunk of 128
  const size_t chunks = (total + kPerChunk - 1) / kPerChunk;
  const auto backends = supported_backends();
  // Every key gets the small table at once; the four hot keys get comb tables after 25 uses,
  // the fresh keys (about 17 uses each) stay on the small table.
  PolicyGuard guard(0, 25);
  std::atomic<size_t> failures{0}, checked{0}, valid_count{0};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks, 1), [&](const tbb::blocked_range<size_t>& rr) {
    for (size_t chunk = rr.begin(); chunk != rr.end(); ++chunk) {
      std::mt19937_64 rng(0xec0a + chunk);
      const size_t n = std::min(kPerChunk, total - chunk * kPerChunk);
      // A few hot keys (get comb tables) and a fresh key every ~50 cases (window path).
      std::vector<RefKey> keys;
      auto add_key = [&] {
        auto kp = ecdsa_p256_keypair();
        ASSERT_TRUE(kp);
        RefKey rk;
        rk.priv = kp->private_der;
        const uint8_t* p = rk.priv.data();
        rk.pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(rk.priv.size()));
        // Alternate the public key encodings the parser accepts.
        std::vector<uint8_t> pub = kp->public_uncompressed;
        if (keys.size() % 2 == 1) {
          pub.resize(33);
          pub[0] = static_cast<uint8_t>(0x02 | (kp->public_uncompressed[64] & 1));
        }
        rk.key = EcdsaP256PublicKey::parse(pub);
        ASSERT_TRUE(rk.key);
        ASSERT_TRUE(std::equal(rk.key->uncompressed().begin(), rk.key->uncompressed().end(),
                               kp->public_uncompressed.begin()));
        keys.push_back(std::move(rk));
      };
      for (int k = 0; k < 4; ++k) add_key();
      std::vector<std::vector<uint8_t>> msgs(n), sigs(n);
      std::vector<size_t> key_of(n);
      std::vector<uint8_t> expect(n);
      std::vector<int> kind(n);
      for (size_t i = 0; i < n; ++i) {
        if (i % 50 == 49) add_key();
        const size_t ki = rng() % 3 == 0 ? keys.size() - 1 : rng() % 4;
        msgs[i].resize(rng() % 4 == 0 ? 128 : rng() % 200);
        for (auto& x : msgs[i]) x = static_cast<uint8_t>(rng());
        sigs[i].resize(64);
        if (i % 100 == 0) {  // the public signing helper, on a sample
          ASSERT_TRUE(ecdsa_p256_sign(keys[ki].priv, msgs[i].data(), msgs[i].size(), sigs[i].data()));
        } else {
          ASSERT_TRUE(sign_with(keys[ki].pkey, msgs[i], sigs[i].data()));
        }
        size_t use_key = ki;
        kind[i] = static_cast<int>(rng() % 16);
        switch (kind[i]) {
          case 0: sigs[i][rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;  // r
          case 1: sigs[i][32 + rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
          case 2:
            if (msgs[i].empty()) msgs[i].push_back(1);
            else msgs[i][rng() % msgs[i].size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
          case 3: sigs[i].resize(rng() % 2 ? 63 : 65, 0); break;  // length
          case 4: use_key = (ki + 1) % keys.size(); break;        // key swapped
          case 5: set_scalar(sigs[i].data(), rng, static_cast<int>(rng() % 6)); break;
          case 6: set_scalar(sigs[i].data() + 32, rng, static_cast<int>(rng() % 6)); break;
          case 7: negate_s(sigs[i].data()); break;                  // high S: valid
          case 8: msgs[i].push_back(0); break;                      // message length
          case 9: for (auto& x : sigs[i]) x = static_cast<uint8_t>(rng()); break;
          default: break;  // valid
        }
        key_of[i] = use_key;
        expect[i] = reference_verify(keys[use_key].pkey, sigs[i], msgs[i]) ? 1 : 0;
        valid_count += expect[i];
      }
      std::vector<EcdsaP256Job> jobs(n);
      for (size_t i = 0; i < n; ++i) {
        jobs[i] = EcdsaP256Job{&*keys[key_of[i]].key, sigs[i].data(), sigs[i].size(),
                               msgs[i].data(), msgs[i].size()};
      }
      // Every backend; the kOpenSSL path only on a sample (it is the slow reference wrapper).
      for (Backend b : backends) {
        std::vector<uint8_t> v(n, 2);
        size_t off = 0, bs = 1 + (chunk * 37) % kMaxBatch;
        while (off < n) {
          const size_t m = std::min(bs, n - off);
          if (b != Backend::kOpenSSL || off % 10 == 0) {
            ecdsa_p256_verify_batch(std::span(jobs).subspan(off, m), std::span(v).subspan(off, m), b);
          } else {
            for (size_t i = off; i < off + m; ++i) v[i] = expect[i];
          }
          off += m;
          bs = bs % kMaxBatch + 1;
        }
        for (size_t i = 0; i < n; ++i) {
          const bool single_checked = i % 8 == 0 && b != Backend::kOpenSSL;
          const bool single = single_checked ? ecdsa_p256_verify(jobs[i], b) : v[i] != 0;
          if (v[i] != expect[i] || single != (expect[i] != 0)) {
            if (failures.fetch_add(1) < 20) {
              std::string sig_hex;
              for (uint8_t x : sigs[i]) sig_hex += "0123456789abcdef"[x >> 4], sig_hex += "0123456789abcdef"[x & 15];
              ADD_FAILURE() << "backend " << backend_name(b) << " chunk " << chunk << " case " << i
                            << " kind " << kind[i] << " msg_len " << msgs[i].size() << " sig "
                            << sig_hex << " expect " << int(expect[i]) << " batch " << int(v[i])
                            << " single " << single;
            }
          }
        }
      }
      checked += n;
      for (auto& k : keys) EVP_PKEY_free(k.pkey);
    }
  });
  std::printf("ECDSA differential: %zu cases (%zu valid) x %zu backends\n", checked.load(),
              valid_count.load(), backends.size());
  EXPECT_EQ(failures.load(), 0u);
}

// ---- garbage ---------------------------------------------------------------------------------

TEST(EcdsaP256, GarbageNeverCrashes) {
  std::mt19937_64 rng(42);
  auto kp = ecdsa_p256_keypair();
  ASSERT_TRUE(kp);
  const auto good = EcdsaP256PublicKey::parse(kp->public_uncompressed);
  ASSERT_TRUE(good);
  const char* pem_head = "-----BEGIN PUBLIC KEY-----\n";
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bytes(rng() % 200);
    for (auto& x : bytes) x = static_cast<uint8_t>(rng());
    switch (iter % 6) {
      case 0: if (!bytes.empty()) bytes[0] = 0x04; bytes.resize(65); break;
      case 1: if (!bytes.empty()) bytes[0] = 0x02; bytes.resize(33); break;
      case 2: bytes.insert(bytes.begin(), {0x30, 0x59}); break;
      case 3: bytes.insert(bytes.begin(), pem_head, pem_head + std::strlen(pem_head)); break;
      case 4: {  // the good key with one byte flipped
        bytes = kp->public_uncompressed;
        bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      }
      default: break;
    }
    const auto key = EcdsaP256PublicKey::parse(bytes);
    const EcdsaP256PublicKey* k = key ? &*key : &*good;
    std::vector<uint8_t> sig(iter % 3 == 0 ? 64 : rng() % 80);
    for (auto& x : sig) x = static_cast<uint8_t>(rng());
    for (Backend b : supported_backends()) {
      EXPECT_FALSE(ecdsa_p256_verify({k, sig.data(), sig.size(), bytes.data(), bytes.size()}, b));
      uint8_t v[2] = {2, 2};
      const EcdsaP256Job jobs[2] = {{k, sig.data(), sig.size(), bytes.data(), bytes.size()},
                                    {nullptr, sig.data(), sig.size(), nullptr, 0}};
      ecdsa_p256_verify_batch(jobs, v, b);
      EXPECT_EQ(v[0], 0);
      EXPECT_EQ(v[1], 0);
    }
    uint8_t out[64];
    (void)ecdsa_der_to_p1363(bytes, out);
  }
  // Null pointers and empty inputs.
  EXPECT_FALSE(EcdsaP256PublicKey::parse({}));
  uint8_t sig[64] = {};
  for (Backend b : supported_backends()) {
    EXPECT_FALSE(ecdsa_p256_verify({nullptr, sig, 64, nullptr, 0}, b));
    EXPECT_FALSE(ecdsa_p256_verify({&*good, nullptr, 64, nullptr, 0}, b));
    EXPECT_FALSE(ecdsa_p256_verify({&*good, sig, 64, nullptr, 5}, b));
    ecdsa_p256_verify_batch({}, {}, b);
  }
  // Points off the curve, the point at infinity, and another curve's key are rejected.
  std::vector<uint8_t> off = kp->public_uncompressed;
  off[64] ^= 1;
  EXPECT_FALSE(EcdsaP256PublicKey::parse(off));
  EXPECT_FALSE(EcdsaP256PublicKey::parse(std::vector<uint8_t>{0x00}));
  EVP_PKEY* k384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  uint8_t* der = nullptr;
  const int der_len = i2d_PUBKEY(k384, &der);
  EXPECT_FALSE(EcdsaP256PublicKey::parse(std::span<const uint8_t>(der, der_len)));
  OPENSSL_free(der);
  EVP_PKEY_free(k384);
}

// One key shared by every thread while its tables are being built (std::call_once) and used.
TEST(EcdsaP256, SharedKeyAcrossThreads) {
  auto kp = ecdsa_p256_keypair();
  ASSERT_TRUE(kp);
  const auto key = EcdsaP256PublicKey::parse(kp->public_uncompressed);
  ASSERT_TRUE(key);
  constexpr size_t kN = 400;
  std::vector<std::vector<uint8_t>> msgs(kN);
  std::vector<std::array<uint8_t, 64>> sigs(kN);
  for (size_t i = 0; i < kN; ++i) {
    msgs[i].assign(32, static_cast<uint8_t>(i));
    ASSERT_TRUE(ecdsa_p256_sign(kp->private_der, msgs[i].data(), 32, sigs[i].data()));
  }
  std::atomic<size_t> bad{0};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, kN, 4), [&](const tbb::blocked_range<size_t>& r) {
    std::vector<EcdsaP256Job> jobs;
    for (size_t i = r.begin(); i != r.end(); ++i) {
      jobs.push_back({&*key, sigs[i].data(), 64, msgs[i].data(), msgs[i].size()});
      if (!ecdsa_p256_verify(jobs.back())) ++bad;
    }
    // A corrupted copy of the first job must fail in the same batch.
    std::array<uint8_t, 64> broken = sigs[r.begin()];
    broken[10] ^= 1;
    jobs.push_back({&*key, broken.data(), 64, msgs[r.begin()].data(), 32});
    std::vector<uint8_t> v(jobs.size());
    ecdsa_p256_verify_batch(jobs, v);
    for (size_t k = 0; k + 1 < v.size(); ++k) bad += v[k] != 1;
    bad += v.back() != 0;
  });
  EXPECT_EQ(bad.load(), 0u);
}

TEST(EcdsaP256, SignVerifyRoundTrip) {
  auto kp = ecdsa_p256_keypair();
  ASSERT_TRUE(kp);
  ASSERT_EQ(kp->public_uncompressed.size(), 65u);
  const auto key = EcdsaP256PublicKey::parse(kp->public_uncompressed);
  ASSERT_TRUE(key);
  const std::string msg = "OCMF|{\"reading\":42}";
  uint8_t sig[64];
  ASSERT_TRUE(ecdsa_p256_sign(kp->private_der, reinterpret_cast<const uint8_t*>(msg.data()),
                              msg.size(), sig));
  for (Backend b : supported_backends()) {
    EXPECT_TRUE(ecdsa_p256_verify(
        {&*key, sig, 64, reinterpret_cast<const uint8_t*>(msg.data()), msg.size()}, b));
  }
  EXPECT_FALSE(ecdsa_p256_sign(std::vector<uint8_t>{1, 2, 3}, nullptr, 0, sig));
}

}  // namespace
}  // namespace assay::crypto

namespace assay::crypto {
namespace {

// A key's comb table built by the AVX-512 engine equals the portable builder's, entry for entry
// (canonical coordinates, so verdicts cannot depend on which built it).
TEST(EcdsaP256, VectorCombTableEqualsPortable) {
  if (!backend_supported(Backend::kAvx512)) GTEST_SKIP() << "no AVX-512 IFMA on this CPU";
  constexpr size_t kEntries = 43 * 32;
  for (int k = 0; k < 4; ++k) {
    auto kp = ecdsa_p256_keypair();
    ASSERT_TRUE(kp);
    std::vector<detail::P256Affine> a(kEntries), b(kEntries);
    detail::p256_set_vector_comb_build(true);
    detail::p256_build_comb_for_test(kp->public_uncompressed.data(), a.data());
    detail::p256_set_vector_comb_build(false);
    detail::p256_build_comb_for_test(kp->public_uncompressed.data(), b.data());
    detail::p256_set_vector_comb_build(true);
    for (size_t i = 0; i < kEntries; ++i) {
      ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof a[i]), 0) << "key " << k << " entry " << i;
    }
  }
}

}  // namespace
}  // namespace assay::crypto
