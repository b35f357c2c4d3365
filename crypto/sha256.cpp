#include "crypto/sha256.hpp"

#include <openssl/evp.h>

namespace assay::crypto {
namespace {

const EVP_MD* md() {
  static EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, never freed
  return m;
}

}  // namespace

Sha256Digest sha256(std::span<const uint8_t> bytes) {
  // One context per thread, reused: EVP_Digest() would allocate and free one per call, which
  // costs more than hashing a short message (a chain link, a tree node).
  thread_local Sha256 h;
  h.init();
  h.update(bytes);
  return h.final();
}

Sha256Digest sha256(std::string_view text) {
  return sha256(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  init();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256::init() {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), md(), nullptr);
}

void Sha256::update(std::span<const uint8_t> bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size());
}

void Sha256::update(std::string_view text) {
  update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Sha256Digest Sha256::final() {
  Sha256Digest out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &n);
  return out;
}

}  // namespace assay::crypto
