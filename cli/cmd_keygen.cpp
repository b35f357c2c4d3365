// `assay keygen`: creates an Ed25519 / ECDSA (P-256, P-384, brainpoolP256r1, brainpoolP384r1)
// key pair or an HMAC-SHA256 secret (crypto::SigningKey) and prints the identity-registry snippet
// for it. Private material is written to files (mode 0600), never to stdout.
#include <openssl/crypto.h>
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
#include "crypto/signing.hpp"
#include "engine/files.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

namespace {

bool write_new_file(const std::string& path, std::string_view content, mode_t mode, bool force, std::string& error) {
  return write_file(path, content, mode, force ? Overwrite::kReplace : Overwrite::kRefuse, error);
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

// --alg names.
struct AlgName {
  const char* name;
  crypto::SignatureAlgorithm alg;
};
constexpr AlgName kAlgs[] = {
    {"ed25519", crypto::SignatureAlgorithm::kEd25519},
    {"ecdsa-p256", crypto::SignatureAlgorithm::kEcdsaP256},
    {"ecdsa", crypto::SignatureAlgorithm::kEcdsaP256},
    {"ecdsa-p384", crypto::SignatureAlgorithm::kEcdsaP384},
    {"ecdsa-brainpoolp256r1", crypto::SignatureAlgorithm::kEcdsaBrainpoolP256r1},
    {"ecdsa-brainpoolp384r1", crypto::SignatureAlgorithm::kEcdsaBrainpoolP384r1},
    {"hmac", crypto::SignatureAlgorithm::kHmac},
};
constexpr const char* kAlgList =
    "ed25519, ecdsa-p256, ecdsa-p384, ecdsa-brainpoolp256r1, ecdsa-brainpoolp384r1 or hmac";

}  // namespace

int cmd_keygen(int argc, char** argv) {
  Args args("assay keygen --alg ed25519|ecdsa-p256|ecdsa-p384|ecdsa-brainpoolp256r1|ecdsa-brainpoolp384r1|hmac "
            "--out PREFIX [--key-id ID] [--force]",
            "Creates a signing key and prints the identity-registry entry for it (YAML).\n"
            "ed25519 / ecdsa-*: writes PREFIX.key (PKCS#8 PEM private key, mode 0600) and PREFIX.pub\n"
            "(SubjectPublicKeyInfo PEM); the entry holds the raw public key in hex (Ed25519: 32 bytes;\n"
            "ECDSA: the uncompressed SEC1 point, 65 or 97 bytes). ECDSA signs with SHA-256 on the 256-bit\n"
            "curves and SHA-384 on the 384-bit ones. hmac: writes PREFIX.secret (64 hex characters = 32\n"
            "random bytes, mode 0600); the entry names the file. Secrets and private keys are never\n"
            "printed. Existing files are not overwritten unless --force is given.");
  args.option("alg", kAlgList)
      .option("out", "path prefix of the files to write")
      .option("key-id", "key id for the registry entry (default: the file name of PREFIX)")
      .flag("force", "overwrite existing files");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  const std::string alg_name = args.get("alg");
  const std::string prefix = args.get("out");
  const bool force = args.has("force");
  if (alg_name.empty() || prefix.empty()) {
    std::fprintf(stderr, "error: --alg and --out are required\n\n%s", args.help().c_str());
    return kExitUsage;
  }
  const AlgName* found = nullptr;
  for (const AlgName& a : kAlgs)
    if (alg_name == a.name) found = &a;
  if (found == nullptr) {
    std::fprintf(stderr, "error: --alg must be %s (got '%s')\n", kAlgList, alg_name.c_str());
    return kExitUsage;
  }
  const crypto::SignatureAlgorithm alg = found->alg;
  std::string key_id = args.get("key-id");
  if (key_id.empty()) key_id = std::filesystem::path(prefix).filename().string();
  if (key_id.empty()) {
    std::fprintf(stderr, "error: cannot derive a key id from --out '%s'; give --key-id\n", prefix.c_str());
    return kExitUsage;
  }

  std::string error;
  if (alg == crypto::SignatureAlgorithm::kHmac) {
    const std::string path = prefix + ".secret";
    if (!force && std::filesystem::exists(path)) {
      std::fprintf(stderr, "assay keygen: %s exists (use --force to overwrite)\n", path.c_str());
      return kExitFailure;
    }
    const auto key = crypto::SigningKey::generate(alg);
    if (!key) {
      std::fprintf(stderr, "assay keygen: cannot draw a random secret\n");
      return kExitFailure;
    }
    std::string text;
    connectors::append_hex(text, key->secret());
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

  const std::string key_path = prefix + ".key";
  const std::string pub_path = prefix + ".pub";
  for (const auto& p : {key_path, pub_path}) {
    if (!force && std::filesystem::exists(p)) {
      std::fprintf(stderr, "assay keygen: %s exists (use --force to overwrite)\n", p.c_str());
      return kExitFailure;
    }
  }
  const auto key = crypto::SigningKey::generate(alg);
  if (!key) {
    std::fprintf(stderr, "assay keygen: key generation failed\n");
    return kExitFailure;
  }
  std::string priv_pem = key->private_key_pem();
  const std::string pub_pem = key->public_key_pem();
  if (priv_pem.empty() || pub_pem.empty()) {
    std::fprintf(stderr, "assay keygen: cannot encode the key\n");
    return kExitFailure;
  }
  const bool ok =
      write_new_file(key_path, priv_pem, 0600, force, error) && write_new_file(pub_path, pub_pem, 0644, force, error);
  wipe(priv_pem);
  if (!ok) {
    std::fprintf(stderr, "assay keygen: %s\n", error.c_str());
    return kExitFailure;
  }
  std::string hex;
  connectors::append_hex(hex, key->public_key());
  std::printf("- key_id: %s\n  alg: %s\n  public_key: \"%s\"\n", registries::yaml_scalar(key_id).c_str(),
              std::string(crypto::signature_algorithm_name(alg)).c_str(), hex.c_str());
  std::fprintf(stderr, "assay keygen: wrote %s and %s\n", key_path.c_str(), pub_path.c_str());
  return kExitOk;
}

}  // namespace assay::cli
