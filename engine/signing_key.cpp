#include "engine/signing_key.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/signing.hpp"
#include "engine/bytes.hpp"
#include "engine/config.hpp"

namespace assay::engine {

namespace {

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw ConfigError(path, 0, 0, "", "engine signing key: " + what);
}

}  // namespace

EngineKey::~EngineKey() = default;

bool parse_engine_public_key(const std::string& arg, std::array<uint8_t, 32>* out,
                             std::string* error) {
  std::string text = arg;
  if (!(arg.size() == 64 && from_hex(arg))) {
    std::ifstream in(arg, std::ios::binary);
    if (!in) {
      *error = "public key '" + arg + "': neither 64 hex digits nor a readable file";
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    if (text.size() > 65536) {
      *error = "public key '" + arg + "': file too large for a public key";
      return false;
    }
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (auto hex = from_hex(text); hex && hex->size() == 32) {
    std::copy(hex->begin(), hex->end(), out->begin());
    return true;
  }
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  EVP_PKEY* pkey = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  size_t len = out->size();
  const bool ok = pkey != nullptr && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 &&
                  EVP_PKEY_get_raw_public_key(pkey, out->data(), &len) == 1 && len == 32;
  EVP_PKEY_free(pkey);
  if (!ok) *error = "public key '" + arg + "': not an Ed25519 public key (hex or PEM)";
  return ok;
}

std::string derive_engine_key_id(std::span<const uint8_t, 32> public_key) {
  const auto digest =
      sha256(std::string_view(reinterpret_cast<const char*>(public_key.data()), public_key.size()));
  return "engine-" + to_hex(std::span<const uint8_t>(digest.data(), 8));
}

std::shared_ptr<const EngineKey> EngineKey::from_seed(std::span<const uint8_t, 32> seed,
                                                      std::string key_id) {
  auto signer = crypto::SigningKey::from_seed(crypto::SignatureAlgorithm::kEd25519, seed);
  if (!signer || signer->public_key().size() != 32) return nullptr;
  std::shared_ptr<EngineKey> key(new EngineKey());
  std::copy(signer->public_key().begin(), signer->public_key().end(), key->public_.begin());
  key->signer_ = std::move(signer);
  key->key_id_ = key_id.empty() ? derive_engine_key_id(key->public_) : std::move(key_id);
  return key;
}

std::shared_ptr<const EngineKey> EngineKey::load(const std::string& path, std::string key_id) {
  std::string pem, error;
  if (!read_regular_file(path, ConfigNode::kMaxSecretFileBytes, pem, error)) refuse(path, error);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey =
      bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (pkey == nullptr) refuse(path, "not a PEM private key");
  std::array<uint8_t, 32> seed{};
  size_t len = seed.size();
  const bool ed = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
  const bool ok = ed && EVP_PKEY_get_raw_private_key(pkey, seed.data(), &len) == 1 && len == 32;
  EVP_PKEY_free(pkey);
  if (!ok) refuse(path, "not an Ed25519 private key");
  auto key = from_seed(seed, std::move(key_id));
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!key) refuse(path, "OpenSSL could not use the key");
  return key;
}

std::array<uint8_t, 64> EngineKey::sign(std::span<const uint8_t> msg) const {
  std::array<uint8_t, 64> sig{};
  thread_local std::vector<uint8_t> out;
  if (signer_->sign(msg, out) && out.size() == sig.size())
    std::copy(out.begin(), out.end(), sig.begin());
  return sig;
}

bool verify_engine_signature(std::span<const uint8_t, 32> public_key, std::span<const uint8_t> msg,
                             std::span<const uint8_t> signature) {
  if (signature.size() != 64) return false;
  crypto::Ed25519Job job{public_key.data(), signature.data(), msg.data(), msg.size()};
  return crypto::ed25519_verify(job);
}

}  // namespace assay::engine
