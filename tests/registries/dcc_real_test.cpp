// DCC import on real public DCC documents (tests/data/dcc/real, see its README for origin and
// licence): PTB's good-practice temperature DCC, signed by "Calibration Lab A1" with XAdES
// (ECDSA P-256, exclusive C14N and C14N 1.1), and the published manipulated copy.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/time.hpp"
#include "registries/dcc.hpp"
#include "tests/registries/dcc_util.hpp"

namespace {

using namespace assay;
using namespace assay::testing;
using registries::CertRefusal;

const std::string kSigned = "real/dcc_gp_temperature_typical_v12_v3.2.0_signed.xml";

// Expected correction, computed independently (exact rational least squares in Python's
// fractions module) from the DCC's table: indicated 33.17 100.06 175.21 250.16 319.92 °C,
// reference 33.098 99.971 175.103 250.169 320.004 °C; U = 2 * sqrt((0.061/2)^2 + (res/sqrt 3)^2).
constexpr double kOffsetCel = -0.04254186410285008, kGain = 0.9989898465285242,
                 kA2 = 4.474949261252633e-06, kResidual = 0.024843573401692704,
                 kExpandedU = 0.06740873473930306;
// The same fit on the kelvin representation of the same table.
constexpr double kOffsetK = 0.5672616491535306, kGainK = 0.9965451817471018;

TEST(DccReal, PtbTemperatureDccLoadsWithItsCorrectionAndUncertainty) {
  TempDir dir("real");
  auto trust = load_trust(dir, {real_lab()});
  const auto o = registries::import_dcc(slurp(dcc_data(kSigned)), kSigned, *trust);
  ASSERT_FALSE(o.refused) << o.refused->message;
  ASSERT_TRUE(o.import);
  const auto& c = o.import->cert;
  EXPECT_EQ(c.certificate_id, "GP_DCC_temperature_typical_1.2");
  EXPECT_EQ(c.sensor_id, "string-customer-item");  // the item identification issued by the customer
  EXPECT_EQ(c.lab_id, "calibration-lab-a1");
  EXPECT_EQ(c.lab_key_id, "calibration-lab-a1-2021");
  EXPECT_EQ(c.signature_alg, "XMLDSig-ecdsa-sha256");
  EXPECT_EQ(c.signature.size(), 64u);
  EXPECT_EQ(engine::format_rfc3339(c.valid_from_ns), "1957-08-13T00:00:00Z");
  EXPECT_EQ(engine::format_rfc3339(c.valid_until_ns), "1959-10-22T23:59:59.999999999Z");
  // No identity registry: the first representation of the hybrid, kelvin.
  EXPECT_EQ(c.unit, "K");
  EXPECT_EQ(c.quantity, "temperature");
  EXPECT_NEAR(c.correction.offset, kOffsetK, 1e-9);
  EXPECT_NEAR(c.correction.gain, kGainK, 1e-9);
  EXPECT_NEAR(c.expanded_uncertainty, kExpandedU, 1e-12);
  EXPECT_EQ(c.coverage_factor, 2);
  EXPECT_EQ(o.import->coverage_probability, 0.95);
  EXPECT_EQ(o.import->uncertainty_form, "si:expandedUncXMLList");
  EXPECT_NEAR(o.import->fit_residual, kResidual, 1e-12);
  EXPECT_EQ(c.range_min, 306);  // the basic_validityRange statement
  EXPECT_EQ(c.range_max, 593);
  EXPECT_NEAR(c.mpe_in_service.absolute, 0.23, 1e-12);  // smallest acceptance limit
  EXPECT_EQ(c.conformity, "pass");
  EXPECT_EQ(engine::format_rfc3339(o.import->signing_time_ns), "2023-03-27T15:14:30Z");
  EXPECT_NE(o.import->signer_subject.find("Calibration Lab A1"), std::string::npos);
}

TEST(DccReal, TheSensorsUnitFromTheIdentityRegistryPicksTheCelsiusValues) {
  TempDir dir("real-cel");
  auto trust = load_trust(dir, {real_lab()});
  registries::IdentityRegistry ids;
  registries::SensorInfo s;
  s.sensor_id = "string-customer-item";
  s.quantity = "air_temperature";
  s.unit = "Cel";
  ids.put(s, {});
  const auto o = registries::import_dcc(slurp(dcc_data(kSigned)), kSigned, *trust, &ids);
  ASSERT_FALSE(o.refused) << o.refused->message;
  const auto& c = o.import->cert;
  EXPECT_EQ(c.unit, "Cel");
  EXPECT_EQ(c.quantity, "air_temperature");
  EXPECT_NEAR(c.correction.offset, kOffsetCel, 1e-9);
  EXPECT_NEAR(c.correction.gain, kGain, 1e-9);
  ASSERT_EQ(c.correction.poly.size(), 1u);
  EXPECT_NEAR(c.correction.poly[0], kA2, 1e-12);
  EXPECT_NEAR(c.expanded_uncertainty, kExpandedU, 1e-12);
  // 306 K .. 593 K in Celsius.
  EXPECT_NEAR(c.range_min, 32.85, 1e-9);
  EXPECT_NEAR(c.range_max, 319.85, 1e-9);
}

TEST(DccReal, OneValueChangedBreaksTheSignature) {
  TempDir dir("real-changed");
  auto trust = load_trust(dir, {real_lab()});
  std::string xml = slurp(dcc_data(kSigned));
  const std::string from = "<si:valueXMLList>0.072 0.089 0.107 -0.009 -0.084</si:valueXMLList>";
  const size_t at = xml.find(from);
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, from.size(),
              "<si:valueXMLList>0.062 0.089 0.107 -0.009 -0.084</si:valueXMLList>");
  const auto o = registries::import_dcc(xml, "changed.xml", *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_FALSE(o.import);
  EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
  EXPECT_NE(o.refused->message.find("changed.xml:"), std::string::npos) << o.refused->message;
  EXPECT_NE(o.refused->message.find("/dcc:digitalCalibrationCertificate/ds:Signature"),
            std::string::npos)
      << o.refused->message;
  EXPECT_NE(o.refused->message.find("URI=\"\""), std::string::npos) << o.refused->message;
}

TEST(DccReal, ThePublishedManipulatedCopyIsRefused) {
  TempDir dir("real-manip");
  auto trust = load_trust(dir, {real_lab()});
  const std::string f = "real/dcc_gp_temperature_typical_v12_v3.2.0_signed_manipulated.xml";
  const auto o = registries::import_dcc(slurp(dcc_data(f)), f, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature) << o.refused->message;
}

TEST(DccReal, XadesLongTermFormAndTheOlderSchemaVersionAlsoVerify) {
  TempDir dir("real-lt");
  auto trust = load_trust(dir, {real_lab()});
  for (const std::string f : {"real/dcc_gp_temperature_typical_v12_v3.2.0_signed_lt.xml",
                              "real/dcc_gp_temperature_typical_v12_signed.xml"}) {
    const auto o = registries::import_dcc(slurp(dcc_data(f)), f, *trust);
    ASSERT_FALSE(o.refused) << f << ": " << o.refused->message;
    EXPECT_NEAR(o.import->cert.expanded_uncertainty, kExpandedU, 1e-12) << f;
  }
}

TEST(DccReal, WithoutTheLabInTheTrustListTheDccIsUntrusted) {
  TempDir dir("real-untrusted");
  auto trust = load_trust(dir, {test_lab()});
  const auto o = registries::import_dcc(slurp(dcc_data(kSigned)), kSigned, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kUntrustedLab);
  EXPECT_NE(o.refused->message.find("ds:X509Certificate"), std::string::npos) << o.refused->message;
}

TEST(DccReal, ARevokedLabKeyIsUntrusted) {
  TempDir dir("real-revoked");
  X509Lab lab = real_lab();
  lab.extra = "    revoked: true\n";
  auto trust = load_trust(dir, {lab});
  const auto o = registries::import_dcc(slurp(dcc_data(kSigned)), kSigned, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kUntrustedLab);
}

TEST(DccReal, ASignatureTimeOutsideTheTrustWindowIsUntrusted) {
  TempDir dir("real-window");
  X509Lab lab = real_lab();
  lab.extra = "    valid_until: 2022-01-01T00:00:00Z\n";  // signed 2023-03-27
  auto trust = load_trust(dir, {lab});
  const auto o = registries::import_dcc(slurp(dcc_data(kSigned)), kSigned, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kUntrustedLab);
  EXPECT_NE(o.refused->message.find("2023-03-27T15:14:30Z"), std::string::npos)
      << o.refused->message;
}

TEST(DccReal, AnUnsignedRealDccIsRefusedAsUnsigned) {
  TempDir dir("real-unsigned");
  auto trust = load_trust(dir, {real_lab()});
  const std::string f = "real/dcc_gp_temperatur_resistance_v12.xml";
  const auto o = registries::import_dcc(slurp(dcc_data(f)), f, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kUnsigned);
  EXPECT_EQ(o.refused->certificate_id, "GP_DCC_temperature_resistance_1.2");
}

TEST(DccReal, AnXPathFilterTransformAndADcc2DocumentAreRefused) {
  // PyDCC's signed silicon sphere (DCC 2.4.0): refused for its schema version; declared 3.x,
  // its signature is refused because it uses an XPath Filter 2.0 transform (not allowed).
  TempDir dir("real-xpath");
  X509Lab signer{"sphere-lab", "sphere-lab-k1", dcc_data("real/siliziumkugel-signer.pem"), ""};
  auto trust = load_trust(dir, {signer});
  const std::string f = "real/signed_siliziumkugel.xml";
  const auto o = registries::import_dcc(slurp(dcc_data(f)), f, *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kInvalid);
  EXPECT_NE(o.refused->message.find("schemaVersion '2.4.0'"), std::string::npos)
      << o.refused->message;
  std::string xml = slurp(dcc_data(f));
  const size_t at = xml.find("schemaVersion=\"2.4.0\"");
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, 21, "schemaVersion=\"3.1.0\"");
  const auto o2 = registries::import_dcc(xml, f, *trust);
  ASSERT_TRUE(o2.refused);
  EXPECT_EQ(o2.refused->reason, CertRefusal::kBadSignature) << o2.refused->message;
  EXPECT_NE(o2.refused->message.find("could not be processed"), std::string::npos)
      << o2.refused->message;
}

}  // namespace
