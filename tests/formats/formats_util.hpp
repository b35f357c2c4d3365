#pragma once
// Helpers shared by the formats tests: byte views, files, hex, and independent signature checks
// with OpenSSL EVP (the parsers never verify; these tests do, as the engine will later).

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <cstdint>
#include <fstream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace assay::formats::test {

// The same OCMF record with one digit of its first meter reading ("RV") changed: still
// well-formed, so only the signature can tell (the tampered twin of a real record).
inline std::string tamper_ocmf_reading(const std::string& rec) {
  std::string t = rec;
  size_t at = t.find("\"RV\"");
  at = t.find_first_of("0123456789", at + 4);
  t[at] = t[at] == '9' ? '8' : static_cast<char>(t[at] + 1);
  return t;
}

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::vector<uint8_t> read_binary(const std::string& path) {
  const std::string s = read_text(path);
  return {s.begin(), s.end()};
}

inline std::vector<uint8_t> unhex(std::string_view h) {
  std::vector<uint8_t> out;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex");
  };
  if (h.size() % 2) throw std::runtime_error("odd hex");
  for (size_t i = 0; i < h.size(); i += 2)
    out.push_back(static_cast<uint8_t>(v(h[i]) << 4 | v(h[i + 1])));
  return out;
}

inline std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

// ECDSA with SHA-256 over `msg`; key = DER SubjectPublicKeyInfo, signature = DER.
inline bool openssl_ecdsa_sha256_verify_der(std::span<const uint8_t> spki,
                                            std::span<const uint8_t> msg,
                                            std::span<const uint8_t> der_sig) {
  const unsigned char* p = spki.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (key == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, der_sig.data(), der_sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

// r||s (2 * n bytes) to DER.
inline std::vector<uint8_t> raw_to_der(std::span<const uint8_t> raw) {
  const size_t n = raw.size() / 2;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(n), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + n, static_cast<int>(n), nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  std::vector<uint8_t> out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

// ECDSA P-256 (ES256): key = 65-byte uncompressed point, signature = r||s.
inline bool openssl_es256_verify(std::span<const uint8_t> point, std::span<const uint8_t> msg,
                                 std::span<const uint8_t> raw_sig) {
  // DER SPKI prefix for an uncompressed P-256 point.
  static const uint8_t kPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
  std::vector<uint8_t> spki(std::begin(kPrefix), std::end(kPrefix));
  spki.insert(spki.end(), point.begin(), point.end());
  return openssl_ecdsa_sha256_verify_der(spki, msg, raw_to_der(raw_sig));
}

// Ed25519: key = 32 raw bytes.
inline bool openssl_ed25519_verify(std::span<const uint8_t> pub, std::span<const uint8_t> msg,
                                   std::span<const uint8_t> sig) {
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.data(), pub.size());
  if (key == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), sig.size(), msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

// HMAC-SHA256 with a full 32-byte tag, compared in constant time.
inline bool openssl_hmac_sha256_verify(std::span<const uint8_t> secret,
                                       std::span<const uint8_t> msg, std::span<const uint8_t> tag) {
  unsigned char out[32];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(),
           out, &len) == nullptr)
    return false;
  return tag.size() == 32 && len == 32 && CRYPTO_memcmp(out, tag.data(), 32) == 0;
}

}  // namespace assay::formats::test
