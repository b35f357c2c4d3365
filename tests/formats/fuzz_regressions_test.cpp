// Regression tests for what fuzzing found in formats/ (issue 19; fuzz/fuzz_ocmf.cpp,
// fuzz/fuzz_senml.cpp). Each test reproduces the input of one finding; the input is also in the
// fuzz regressions (fuzz/regressions/<target>/crash-*), which the fuzz targets and their replay
// tests (fuzz_replay_<target>) replay.
#include <gtest/gtest.h>

#include <string>

#include "formats/ocmf.hpp"
#include "formats/ocmf_check.hpp"
#include "formats/senml.hpp"
#include "formats/senml_check.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::bytes;

// fuzz_ocmf, crash-long-obis-snapshot: a record whose OBIS code (RI, 279 bytes) is within the
// parser's limits opened a transaction; the checker kept the register, and its state's snapshot
// was refused by restore() (it allowed OBIS codes of at most 256 bytes), so a durable state
// could not be restored. restore() now takes back whatever check() can store.
TEST(FuzzRegressions, OcmfSnapshotWithLongObisCodeRestores) {
  const std::string rec =
      R"(OCMF|{"I":"","GS":"0","PG":"T2","RD":[{"TM":"1970-01-01T01:01:49,000+0100 U","TX":"B",)"
      R"("ST":"G","RV":1,"RI":"1-gZW5lYWwwWTACIgcqhkjOPQIBBggqhOPQMBBwNCAARNGx9OAK1Fc8JYTOu8Lz+s8)"
      R"(OP8i4CDoWRZlRyJkNeP/Okr6vkN586blgEobzwbl5kTuc/ug+dqdGDUit74su9JK85L4tertw5u43zgVmPQVdVJK)"
      R"(CqiISUr9K0vIK+rVPifi2e8KAxDv8gZf64gm4IuAQQOwK7Cr0ATzkc1y+dj922HNqt796WAxSeFpOEBxgH/6zGd+)"
      R"(TC3rHRy7b81.9.0","RU":"Wh"}]}|{"SD":"304402206A5CF9C6D45C20AA16B6C927FCF051515A902817BA3)"
      R"(EDAF421540104D2017EE402200C1BF64119F2842BE7ED7DCF506B57C69D5B449F6307AD991A550955990B3D3C"})";
  OcmfRecord r;
  ASSERT_EQ(parse_ocmf(bytes(rec), {}, r), OcmfError::kNone);
  ASSERT_EQ(r.readings.size(), 1u);
  EXPECT_GT(r.readings[0].obis.size(), 256u);
  OcmfCheckState state;
  std::string buf;
  (void)OcmfChecker().check(state, r, ocmf_signer_id(r, buf));
  ASSERT_EQ(state.find("0")->registers.size(), 1u);
  const auto snap = state.snapshot();
  OcmfCheckState restored;
  ASSERT_TRUE(restored.restore(snap));
  EXPECT_EQ(restored.snapshot(), snap);
}

// The same class: a signer id (GS/MS, up to twice the parser's string limit) longer than the
// 4096 bytes restore() used to allow, and more registers than its former cap of 1024 with a
// configured max_registers above it.
TEST(FuzzRegressions, OcmfSnapshotWithLongSignerAndManyRegistersRestores) {
  const std::string gs(5000, 'G'), ms(3000, 'M');
  std::string rd;
  for (int i = 0; i < 1100; ++i) {
    if (i) rd += ",";
    rd += R"({"TM":"2024-05-01T10:00:00,000+0000 S","TX":"B","RV":1,"RI":"1-b:)" +
          std::to_string(i) + R"(","RU":"kWh","ST":"G"})";
  }
  const std::string rec = R"(OCMF|{"FV":"1.0","GS":")" + gs + R"(","MS":")" + ms +
                          R"(","PG":"T1","RD":[)" + rd + R"(]}|{"SD":"3006020101020101"})";
  OcmfParseOptions po;
  po.max_readings = 2000;
  po.max_record_bytes = 1 << 20;
  OcmfRecord r;
  ASSERT_EQ(parse_ocmf(bytes(rec), po, r), OcmfError::kNone);
  OcmfCheckConfig cfg;
  cfg.max_registers = 2000;
  OcmfCheckState state;
  std::string buf;
  const std::string signer(ocmf_signer_id(r, buf));
  EXPECT_EQ(signer.size(), 8001u);
  (void)OcmfChecker(cfg).check(state, r, signer);
  ASSERT_EQ(state.find(signer)->registers.size(), 1100u);
  const auto snap = state.snapshot();
  OcmfCheckState restored;
  ASSERT_TRUE(restored.restore(snap));
  EXPECT_EQ(restored.snapshot(), snap);
  // Still refused: a snapshot cut anywhere.
  for (size_t n : {size_t{0}, size_t{20}, snap.size() / 2, snap.size() - 1})
    EXPECT_FALSE(OcmfCheckState().restore(std::span(snap).first(n))) << n;
}

// The SenML replay state had the same limit (names of at most 4096 bytes on restore) below
// what a configured parser accepts (SenmlParseOptions::max_name_bytes).
TEST(FuzzRegressions, SenmlSnapshotWithLongNameRestores) {
  const std::string name(6000, 'n');
  const std::string json = R"([{"n":")" + name + R"(","t":1700000000,"v":1}])";
  SenmlParseOptions po;
  po.max_name_bytes = 8192;
  po.max_string_bytes = 8192;
  SenmlPack pack;
  ASSERT_EQ(parse_senml_json(bytes(json), po, pack), SenmlError::kNone);
  SenmlReplayState state;
  ASSERT_TRUE(SenmlReplayChecker().check(state, pack).ok());
  const auto snap = state.snapshot();
  SenmlReplayState restored;
  ASSERT_TRUE(restored.restore(snap));
  EXPECT_EQ(restored.snapshot(), snap);
  EXPECT_FALSE(SenmlReplayState().restore(std::span(snap).first(snap.size() - 1)));
}

}  // namespace
}  // namespace assay::formats
