// The identity registry's ECDSA keys (issue 15): P-256, P-384 and brainpool keys in the forms
// meter makers publish (hex DER SubjectPublicKeyInfo, PEM inline or in a file, hex SEC1 point),
// one algorithm per curve and hash; a key of another curve, a broken key and an unknown
// algorithm are refused with a located reason while the rest of the registry loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include "../operators/calibration_util.hpp"
#include "registries/identity_registry.hpp"

namespace assay::registries {
namespace {

namespace fs = std::filesystem;

// Published meter keys (tests/data/ocmf/real_records.jsonl: NZR, KEBA), hex DER SPKI.
constexpr const char* kP384 =
    "3076301006072a8648ce3d020106052b81040022036200047991e23a9815893ff8d3c9ef47d682b39297fa3c47da"
    "345ef3d150245814120f48ad31c51536341b80e679c3138e316adb9f39bcb42e8ce28d4c824844b4c6b16e48f056"
    "fd803ec7f3cd1b6ba1bca125da5e211842d5fb61f01baa3de9b2f10c";
constexpr const char* kBp256 =
    "305a301406072a8648ce3d020106092b240303020801010703420004607201339ef7c61eb1270c0bea675585711c"
    "b160835f0f55975a311ea6f14ae98981a9276abc6c70ada4f8ce25a5502336c738b9e86fb1ed62150ff1b0fad5a2";
constexpr const char* kP256 =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200043aeeb45c392357820a58fdfb0857bd77ada315"
    "85c61c430531dfa53b440afbfdd95ac887c658ea55260f808f55ca948df235c2108a0d6dc7d4ab1a5e1a7955be";
// The P-256 key above as PEM (base64 of the same DER).
constexpr const char* kP256Pem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOu60XDkjV4IKWP37CFe9d62jFYXG\n"
    "HEMFMd+lO0QK+/3ZWsiHxljqVSYPgI9VypSN8jXCEIoNbcfUqxpeGnlVvg==\n"
    "-----END PUBLIC KEY-----\n";

struct Dir {
  fs::path path = testing::temp_dir("ecdsakeys");
  ~Dir() { fs::remove_all(path); }
};

std::string key(const std::string& id, const std::string& alg, const std::string& line) {
  return "      - key_id: " + id + "\n        alg: " + alg + "\n        " + line + "\n";
}

TEST(IdentityEcdsaKeys, PublishedFormsOfEveryCurve) {
  Dir d;
  testing::write_text(d.path / "p256.pem", kP256Pem);
  std::string y = "sensors:\n  - sensor_id: m1\n    keys:\n";
  y += key("p384-sha256", "EcdsaP384Sha256", "public_key: \"" + std::string(kP384) + "\"");
  y += key("p384-sha384", "EcdsaP384Sha384", "public_key: \"" + std::string(kP384) + "\"");
  y += key("bp256", "EcdsaBrainpoolP256r1Sha256", "public_key: \"" + std::string(kBp256) + "\"");
  y += key("p256-hex-der", "EcdsaP256Sha256", "public_key: \"" + std::string(kP256) + "\"");
  y += key("p256-pem-file", "EcdsaP256Sha256", "public_key_file: p256.pem");
  // The SEC1 point: the last 65 bytes of the DER.
  y += key("p256-point", "EcdsaP256Sha256",
           "public_key: \"" + std::string(kP256).substr(std::string(kP256).size() - 130) + "\"");
  y += "      - key_id: p256-pem-inline\n        alg: EcdsaP256Sha256\n        public_key: |\n";
  for (const char* p = kP256Pem; *p != 0;) {
    const char* e = std::strchr(p, '\n');
    y += "          " + std::string(p, e) + "\n";
    p = e + 1;
  }
  testing::write_text(d.path / "sensors.yaml", y);
  RegistryLoadReport report;
  const auto reg = load_identity_registry((d.path / "sensors.yaml").string(), report);
  ASSERT_TRUE(report.refused.empty()) << report.refused[0];
  EXPECT_EQ(report.keys, 7u);
  struct Want {
    const char* id;
    wire::SignatureAlg alg;
    crypto::EcdsaCurve curve;
  };
  for (const Want& w :
       {Want{"p384-sha256", wire::SignatureAlg::EcdsaP384Sha256, crypto::EcdsaCurve::kP384},
        Want{"p384-sha384", wire::SignatureAlg::EcdsaP384Sha384, crypto::EcdsaCurve::kP384},
        Want{"bp256", wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256,
             crypto::EcdsaCurve::kBrainpoolP256r1},
        Want{"p256-hex-der", wire::SignatureAlg::EcdsaP256Sha256, crypto::EcdsaCurve::kP256},
        Want{"p256-pem-file", wire::SignatureAlg::EcdsaP256Sha256, crypto::EcdsaCurve::kP256},
        Want{"p256-point", wire::SignatureAlg::EcdsaP256Sha256, crypto::EcdsaCurve::kP256},
        Want{"p256-pem-inline", wire::SignatureAlg::EcdsaP256Sha256, crypto::EcdsaCurve::kP256}}) {
    SCOPED_TRACE(w.id);
    const SensorKey* k = reg->find_key(w.id);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->alg, w.alg);
    ASSERT_TRUE(k->ec.has_value());
    EXPECT_EQ(k->ec->curve(), w.curve);
    EXPECT_EQ(k->ecdsa.has_value(), w.curve == crypto::EcdsaCurve::kP256);
  }
  // Every P-256 form is the same key.
  const auto same = reg->find_key("p256-hex-der")->ec->uncompressed();
  for (const char* id : {"p256-pem-file", "p256-point", "p256-pem-inline"}) {
    const auto u = reg->find_key(id)->ec->uncompressed();
    EXPECT_TRUE(std::equal(same.begin(), same.end(), u.begin(), u.end())) << id;
  }
}

TEST(IdentityEcdsaKeys, RefusalsAreLocatedAndTheRestLoads) {
  Dir d;
  std::string y = "sensors:\n  - sensor_id: m1\n    keys:\n";
  y += key("wrong-curve", "EcdsaP384Sha256", "public_key: \"" + std::string(kP256) + "\"");
  y += key("broken", "EcdsaBrainpoolP384r1Sha256", "public_key: \"3059abcdef\"");
  y += key("secp256k1", "EcdsaSecp256k1Sha256", "public_key: \"" + std::string(kP256) + "\"");
  y += "      - key_id: no-key\n        alg: EcdsaP384Sha384\n";
  y += key("good", "EcdsaP384Sha256", "public_key: \"" + std::string(kP384) + "\"");
  testing::write_text(d.path / "sensors.yaml", y);
  RegistryLoadReport report;
  const auto reg = load_identity_registry((d.path / "sensors.yaml").string(), report);
  ASSERT_EQ(report.refused.size(), 4u);
  EXPECT_NE(report.refused[0].find("sensors.yaml:6:"), std::string::npos) << report.refused[0];
  EXPECT_NE(report.refused[0].find("a key of another curve"), std::string::npos)
      << report.refused[0];
  EXPECT_NE(report.refused[1].find("not a valid brainpoolP384r1 public key"), std::string::npos)
      << report.refused[1];
  EXPECT_NE(report.refused[2].find("unknown alg 'EcdsaSecp256k1Sha256'"), std::string::npos)
      << report.refused[2];
  EXPECT_NE(report.refused[3].find("needs public_key or public_key_file"), std::string::npos)
      << report.refused[3];
  EXPECT_EQ(reg->key_count(), 1u);
  EXPECT_NE(reg->find_key("good"), nullptr);
  EXPECT_NE(reg->find_sensor("m1"), nullptr);
}

}  // namespace
}  // namespace assay::registries
