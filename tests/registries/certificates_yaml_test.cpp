// The fast certificates reader (libyaml) reads exactly what parse_certificate (ConfigNode over
// yaml-cpp) reads, at the same locations, and declines whatever it must leave to that path.
#include "registries/certificates_yaml.hpp"

#include <gtest/gtest.h>

#include <random>

#include "engine/config.hpp"
#include "registries/calibration_registry.hpp"

namespace {

using namespace assay;
using registries::CalibrationCertificate;

std::vector<CalibrationCertificate> varied(size_t n) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> d(-1e3, 1e3);
  std::vector<CalibrationCertificate> out(n);
  for (size_t i = 0; i < n; ++i) {
    auto& c = out[i];
    c.certificate_id = "urn:x:cert:" + std::to_string(i);
    c.sensor_id = i % 3 == 0 ? "sensor with spaces " + std::to_string(i) : "s" + std::to_string(i);
    c.lab_id = i % 2 ? "lab-1" : "true";  // a YAML 1.1 boolean word, quoted by to_yaml
    c.issue_date_ns = 1'700'000'000'123'456'789 + static_cast<int64_t>(i);
    c.valid_from_ns = c.issue_date_ns;
    c.valid_until_ns = c.valid_from_ns + 86'400'000'000'000;
    c.quantity = "temperature";
    c.unit = i % 2 ? "Cel" : "%";
    c.correction = {d(rng), 1 + d(rng) * 1e-6,
                    i % 2 ? std::vector<double>{1e-300, -2.5e-7} : std::vector<double>{}};
    c.expanded_uncertainty = std::fabs(d(rng));
    c.coverage_factor = 2.5;
    c.mpe_initial = {0.5, 1e-3};
    c.mpe_in_service = {1, 2e-3};
    c.range_min = -40.5;
    c.range_max = 1e20;
    c.conformity = i % 4 == 0 ? "" : "pass";
    c.lab_key_id = "k1";
    c.signature.assign(64, static_cast<uint8_t>(i));
  }
  return out;
}

TEST(CertificatesYaml, ReadsWhatConfigNodeReadsAtTheSameLocations) {
  const auto certs = varied(40);
  const std::string y = registries::to_yaml(certs);
  const auto fast = registries::parse_certificates_fast(y);
  ASSERT_TRUE(fast);
  const auto root = engine::ConfigNode::load_string(y, "c.yaml");
  const auto items = root.get("certificates").items();
  ASSERT_EQ(fast->size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const auto slow = registries::parse_certificate(items[i]);
    const auto& f = (*fast)[i];
    EXPECT_EQ(registries::canonical_bytes(f.cert), registries::canonical_bytes(slow)) << i;
    EXPECT_EQ(f.cert.signature, slow.signature);
    EXPECT_EQ(f.line, items[i].line());
    EXPECT_EQ(f.column, items[i].column());
  }
  EXPECT_TRUE(registries::parse_certificates_fast("certificates: []\n"));
}

TEST(CertificatesYaml, DeclinesWhatTheConfigNodePathMustDecide) {
  const std::string good = registries::to_yaml(varied(1));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return s;
  };
  ASSERT_TRUE(registries::parse_certificates_fast(good));
  for (const std::string& bad : {
           with("quantity: temperature", "quantity: ${QUANTITY}"),        // env interpolation
           with("quantity: temperature", "quantity: &q temperature"),     // anchor
           with("quantity: temperature", "quantity: !!str temperature"),  // explicit tag
           with("quantity: temperature", "quantiti: temperature"),        // unknown key
           with("quantity: temperature", "quantity: temperature\n    unit: K"),  // duplicate
           with("coverage_factor: 2.5", "coverage_factor: .nan"),
           with("coverage_factor: 2.5", "coverage_factor: 0x10"),
           with("coverage_factor: 2.5", "coverage_factor: 0"),  // invalid
           with("quantity: temperature", "quantity: ~"),        // null
           with("lab_key_id: k1", "lab_key_id: \"\""),          // empty
           with("signature: \"", "signature: \"zz"),            // not hex
           good + "other: 1\n",                                 // another root key
           good + "---\ncertificates: []\n",                    // two documents
           good + good.substr(good.find("\n") + 1),             // duplicate certificate_id
           std::string("certificates:\n  - [1, 2\n"),           // syntax error
       })
    EXPECT_FALSE(registries::parse_certificates_fast(bad)) << bad;
}

}  // namespace
