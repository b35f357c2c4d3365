// `assay keygen`: key files, modes, registry snippet, refusal to overwrite.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "connectors/record_json.hpp"
#include "cli/commands.hpp"
#include "crypto/signing.hpp"
#include "sim_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using assay::cli::cmd_keygen;
using assay::test::read_file;
using assay::test::run_capture;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

std::string raw_public_hex(const fs::path& pub, bool ed) {
  FILE* f = std::fopen(pub.c_str(), "r");
  if (f == nullptr) return {};
  EVP_PKEY* k = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (k == nullptr) return {};
  std::vector<uint8_t> raw(ed ? 32 : 200);
  size_t len = raw.size();
  const bool ok = ed ? EVP_PKEY_get_raw_public_key(k, raw.data(), &len) == 1
                     : EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw.data(),
                                                       raw.size(), &len) == 1;
  EVP_PKEY_free(k);
  if (!ok) return {};
  std::string hex;
  assay::connectors::append_hex(hex, {raw.data(), len});
  return hex;
}

// raw_bytes: size of the raw public key (32 Ed25519, 65 or 97 ECDSA); registry: the alg name.
void check_asymmetric(const char* alg, const char* registry, size_t raw_bytes) {
  const bool ed = raw_bytes == 32;
  const fs::path dir = assay::test::temp_dir(std::string("keygen-") + alg);
  const std::string prefix = (dir / "dev1").string();
  std::string out;
  ASSERT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", alg, "--out", prefix, "--key-id", "dev1-k1"}, out), 0);
  const fs::path key = prefix + ".key", pub = prefix + ".pub";
  EXPECT_EQ(mode_of(key), 0600u);
  const std::string key_pem = read_file(key);
  EXPECT_EQ(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "not PKCS#8";
  EXPECT_EQ(read_file(pub).rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  const std::string hex = raw_public_hex(pub, ed);
  ASSERT_EQ(hex.size(), 2 * raw_bytes);
  EXPECT_EQ(out, std::string("- key_id: dev1-k1\n  alg: ") + registry + "\n  public_key: \"" + hex + "\"\n");
  EXPECT_EQ(out.find("PRIVATE"), std::string::npos);
  // The key file signs, and the printed public key verifies the signature.
  const auto sk = assay::crypto::SigningKey::from_pem(key_pem);
  ASSERT_TRUE(sk);
  EXPECT_EQ(assay::crypto::signature_algorithm_name(sk->alg()), registry);
  std::string printed;
  assay::connectors::append_hex(printed, sk->public_key());
  EXPECT_EQ(printed, hex);
  const std::vector<uint8_t> msg = {'O', 'C', 'M', 'F'};
  std::vector<uint8_t> sig;
  ASSERT_TRUE(sk->sign(msg, sig));
  EXPECT_EQ(sig.size(), assay::crypto::signature_size(sk->alg()));
  EXPECT_TRUE(assay::crypto::verify_with_public_key(sk->alg(), sk->public_key(), msg, sig));
  // Refuses to overwrite; --force overwrites with a new key.
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", alg, "--out", prefix}, out), 1);
  EXPECT_EQ(read_file(key), key_pem);
  ASSERT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", alg, "--out", prefix, "--force"}, out), 0);
  EXPECT_NE(read_file(key), key_pem);
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_NE(out.find("- key_id: dev1\n"), std::string::npos) << out;
}

TEST(KeygenCli, Ed25519) { check_asymmetric("ed25519", "Ed25519", 32); }
TEST(KeygenCli, EcdsaP256) { check_asymmetric("ecdsa-p256", "EcdsaP256Sha256", 65); }
TEST(KeygenCli, EcdsaP384) { check_asymmetric("ecdsa-p384", "EcdsaP384Sha384", 97); }
TEST(KeygenCli, EcdsaBrainpoolP256r1) {
  check_asymmetric("ecdsa-brainpoolp256r1", "EcdsaBrainpoolP256r1Sha256", 65);
}
TEST(KeygenCli, EcdsaBrainpoolP384r1) {
  check_asymmetric("ecdsa-brainpoolp384r1", "EcdsaBrainpoolP384r1Sha384", 97);
}

TEST(KeygenCli, HmacSecret) {
  const fs::path dir = assay::test::temp_dir("keygen-hmac");
  const std::string prefix = (dir / "gw7").string();
  std::string out;
  ASSERT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "hmac", "--out", prefix}, out), 0);
  const fs::path secret = prefix + ".secret";
  EXPECT_EQ(mode_of(secret), 0600u);
  const std::string s = read_file(secret);
  ASSERT_EQ(s.size(), 65u);
  EXPECT_EQ(s.back(), '\n');
  for (size_t i = 0; i < 64; ++i) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(s[i])) && !std::isupper(s[i]));
  EXPECT_EQ(out.find(s.substr(0, 64)), std::string::npos) << "secret printed";
  EXPECT_NE(out.find("alg: HmacSha256"), std::string::npos);
  EXPECT_NE(out.find("secret_file: " + prefix + ".secret"), std::string::npos) << out;
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "hmac", "--out", prefix}, out), 1);
  EXPECT_EQ(read_file(secret), s);
  ASSERT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "hmac", "--out", prefix, "--force"}, out), 0);
  EXPECT_NE(read_file(secret), s);
}

TEST(KeygenCli, UsageErrors) {
  std::string out;
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--help"}, out), 0);
  EXPECT_NE(out.find("usage: assay keygen"), std::string::npos);
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "rsa", "--out", "x"}, out), 2);
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "ecdsa-p521", "--out", "x"}, out), 2);
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "ed25519"}, out), 2);
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--out", "x"}, out), 2);
  EXPECT_EQ(run_capture(cmd_keygen, {"keygen", "--alg", "ed25519", "--out", "/nonexistent-dir/x"}, out), 1);
}

}  // namespace
