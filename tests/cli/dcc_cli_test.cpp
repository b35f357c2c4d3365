// `assay dcc inspect`: prints what Assay takes from a real public DCC, with XML paths; a
// changed copy is refused (exit 1) with the file, the XML path and the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli/cli_util.hpp"

namespace {

using assay::clitest::kAssay;
using assay::clitest::sh;
namespace fs = std::filesystem;

const std::string kData = std::string(ASSAY_SOURCE_DIR) + "/tests/data/dcc/";

TEST(DccCli, InspectPrintsWhatAssayTakesFromARealDcc) {
  const fs::path d = fs::temp_directory_path() / ("assay-dcc-cli-" + std::to_string(getpid()));
  fs::create_directories(d);
  std::ofstream(d / "labs.yaml") << "labs:\n  - lab_id: calibration-lab-a1\n    key_id: lab-a1\n"
                                    "    alg: X509\n    certificate_file: "
                                 << kData << "real/calibration-lab-a1.pem\n";
  std::ofstream(d / "sensors.yaml") << "sensors:\n  - sensor_id: string-customer-item\n    "
                                       "quantity: temperature\n    unit: Cel\n";
  const std::string file = kData + "real/dcc_gp_temperature_typical_v12_v3.2.0_signed.xml";
  auto r = sh(kAssay + " dcc inspect " + file + " --trust " + (d / "labs.yaml").string() +
              " --registry " + (d / "sensors.yaml").string());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ACCEPTED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GP_DCC_temperature_typical_1.2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("string-customer-item"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/dcc:digitalCalibrationCertificate/dcc:administrativeData/dcc:coreData/"
                       "dcc:uniqueIdentifier:"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("si:expandedUncXMLList"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.06740873474"), std::string::npos) << r.out;  // U (see dcc_real_test)
  EXPECT_NE(r.out.find("ecdsa-sha256"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Cel"), std::string::npos) << r.out;
  // One value changed: refused, exit 1, with the file and the XML path.
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string xml = ss.str();
  xml.replace(xml.find("0.072 0.089"), 11, "0.172 0.089");
  std::ofstream(d / "changed.xml", std::ios::binary) << xml;
  r = sh(kAssay + " dcc inspect " + (d / "changed.xml").string() + " --trust " +
         (d / "labs.yaml").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("REFUSED bad_signature: " + (d / "changed.xml").string() + ":"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("/dcc:digitalCalibrationCertificate/ds:Signature"), std::string::npos)
      << r.out;
  // Usage errors.
  EXPECT_EQ(sh(kAssay + " dcc inspect " + file).code, 2);
  EXPECT_EQ(sh(kAssay + " dcc").code, 2);
  EXPECT_EQ(sh(kAssay + " dcc --help").code, 0);
  fs::remove_all(d);
}

}  // namespace
