#include <gtest/gtest.h>
#include "formats/ocmf.hpp"
using namespace assay::formats;
TEST(OcmfSmoke, Keba) {
  const std::string rec = R"(OCMF|{"FV":"1.0","GI":"KEBA_KCP30","GS":"17619300","GV":"2.8.5","PG":"T32","IS":false,"IL":"NONE","IF":["RFID_NONE","OCPP_NONE","ISO15118_NONE","PLMN_NONE"],"IT":"NONE","ID":"","RD":[{"TM":"2019-08-13T10:03:15,000+0000 I","TX":"B","EF":"","ST":"G","RV":0.2596,"RI":"1-b:1.8.0","RU":"kWh"},{"TM":"2019-08-13T10:03:36,000+0000 R","TX":"E","EF":"","ST":"G","RV":0.2597,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"304502200E2F107C987A300AC1695CA89EA149A8CDFA16188AF0A33EE64B67964AA943F9022100889A72B6D65364BEA8562E7F6A0253157ACFF84FE4929A93B5964D23C4265699"})";
  OcmfRecord r;
  auto e = parse_ocmf({reinterpret_cast<const uint8_t*>(rec.data()), rec.size()}, {}, r);
  EXPECT_EQ(ocmf_error_name(e), "ok");
  EXPECT_EQ(r.readings.size(), 2u);
}
