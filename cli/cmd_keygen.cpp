// `assay keygen`: creates an Ed25519 / ECDSA P-256 key pair or an HMAC-SHA256 secret and prints
// the identity-registry snippet for it. Private material is written to files (mode 0600), never
// to stdout.
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "registries/calibration_certificate.hpp"
#include "connectors/record_json.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "engine/files.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

namespace {

bool write_new_file(const std::string& path, std::string_view content, mode_t mode, bool force, std::string& error) {
  return write_file(path, content, mode, force ? Overwrite::kReplace : Overwrite::kRefuse, error);
}

// Reads a memory BIO into a string and wipes the BIO's buffer.
std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

}  // namespace

int cmd_keygen(int argc, char** argv) {
  Args args("assay keygen --alg ed25519|ecdsa-p256|hmac --out PREFIX [--key-id ID] [--force]",
            "Creates a signing key with OpenSSL and prints the identity-registry entry for it (YAML).\n"
            "ed25519 / ecdsa-p256: writes PREFIX.key (PKCS#8 PEM private key, mode 0600) and PREFIX.pub\n"
            "(SubjectPublicKeyInfo PEM); the entry holds the raw public key in hex (Ed25519: 32 bytes;\n"
            "P-256: 65-byte uncompressed SEC1). hmac: writes PREFIX.secret (64 hex characters = 32 random\n"
            "bytes, mode 0600); the entry names the file. Secrets and private keys are never printed.\n"
            "Existing files are not overwritten unless --force is given.");
  args.option("alg", "ed25519, ecdsa-p256 or hmac")
      .option("out", "path prefix of the files to write")
      .option("key-id", "key id for the registry entry (default: the file name of PREFIX)")
      .flag("force", "overwrite existing files");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  const std::string alg = args.get("alg");
  const std::string prefix = args.get("out");
  const bool force = args.has("force");
  if (alg.empty() || prefix.empty()) {
    std::fprintf(stderr, "error: --alg and --out are required\n\n%s", args.help().c_str());
    return kExitUsage;
  }
  if (alg != "ed25519" && alg != "ecdsa-p256" && alg != "ecdsa" && alg != "hmac") {
    std::fprintf(stderr, "error: --alg must be ed25519, ecdsa-p256 or hmac (got '%s')\n", alg.c_str());
    return kExitUsage;
  }
  std::string key_id = args.get("key-id");
  if (key_id.empty()) key_id = std::filesystem::path(prefix).filename().string();
  if (key_id.empty()) {
    std::fprintf(stderr, "error: cannot derive a key id from --out '%s'; give --key-id\n", prefix.c_str());
    return kExitUsage;
  }

  std::string error;
  if (alg == "hmac") {
    const std::string path = prefix + ".secret";
    if (!force && std::filesystem::exists(path)) {
      std::fprintf(stderr, "assay keygen: %s exists (use --force to overwrite)\n", path.c_str());
      return kExitFailure;
    }
    unsigned char secret[32];
    if (RAND_bytes(secret, sizeof secret) != 1) {
      std::fprintf(stderr, "assay keygen: RAND_bytes failed\n");
      return kExitFailure;
    }
    std::string text;
    connectors::append_hex(text, {secret, sizeof secret});
    OPENSSL_cleanse(secret, sizeof secret);
    text.push_back('\n');
    const bool ok = write_new_file(path, text, 0600, force, error);
    wipe(text);
    if (!ok) {
      std::fprintf(stderr, "assay keygen: %s\n", error.c_str());
      return kExitFailure;
    }
    std::printf("- key_id: %s\n  alg: HmacSha256\n  secret_file: %s\n", registries::yaml_scalar(key_id).c_str(),
                registries::yaml_scalar(path).c_str());
    std::fprintf(stderr, "assay keygen: wrote %s\n", path.c_str());
    return kExitOk;
  }

  const bool ed = alg == "ed25519";
  const std::string key_path = prefix + ".key";
  const std::string pub_path = prefix + ".pub";
  for (const auto& p : {key_path, pub_path}) {
    if (!force && std::filesystem::exists(p)) {
      std::fprintf(stderr, "assay keygen: %s exists (use --force to overwrite)\n", p.c_str());
      return kExitFailure;
    }
  }
  EVP_PKEY* pkey = ed ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (pkey == nullptr) {
    std::fprintf(stderr, "assay keygen: key generation failed\n");
    return kExitFailure;
  }
  std::vector<uint8_t> raw(ed ? 32 : 65);
  size_t raw_len = raw.size();
  bool ok = ed ? EVP_PKEY_get_raw_public_key(pkey, raw.data(), &raw_len) == 1
               : EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw.data(), raw.size(),
                                                 &raw_len) == 1;
  ok = ok && raw_len == raw.size() && (ed || raw[0] == 0x04);
  std::string priv_pem, pub_pem;
  if (ok) {
    BIO* bp = BIO_new(BIO_s_secmem());
    BIO* bq = BIO_new(BIO_s_mem());
    ok = bp != nullptr && bq != nullptr &&
         PEM_write_bio_PKCS8PrivateKey(bp, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
         PEM_write_bio_PUBKEY(bq, pkey) == 1;
    if (ok) {
      priv_pem = bio_string(bp);
      pub_pem = bio_string(bq);
    }
    BIO_free(bp);
    BIO_free(bq);
  }
  EVP_PKEY_free(pkey);
  if (!ok) {
    std::fprintf(stderr, "assay keygen: cannot encode the key\n");
    return kExitFailure;
  }
  ok = write_new_file(key_path, priv_pem, 0600, force, error) && write_new_file(pub_path, pub_pem, 0644, force, error);
  wipe(priv_pem);
  if (!ok) {
    std::fprintf(stderr, "assay keygen: %s\n", error.c_str());
    return kExitFailure;
  }
  std::string hex;
  connectors::append_hex(hex, raw);
  std::printf("- key_id: %s\n  alg: %s\n  public_key: \"%s\"\n", registries::yaml_scalar(key_id).c_str(),
              ed ? "Ed25519" : "EcdsaP256Sha256", hex.c_str());
  std::fprintf(stderr, "assay keygen: wrote %s and %s\n", key_path.c_str(), pub_path.c_str());
  return kExitOk;
}

}  // namespace assay::cli
