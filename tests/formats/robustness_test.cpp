// Bad input never crashes, hangs or allocates without bound: every parser is fed seeded random
// mutations of valid inputs (bit flips, byte changes, insertions, deletions, truncations,
// splices) and pathological shapes (deep nesting, huge declared lengths). Run under
// ASan/UBSan too. Deterministic (fixed seeds).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cbor_builder.hpp"
#include "formats/cose.hpp"
#include "formats/ocmf_check.hpp"
#include "formats/senml_check.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::Cbor;

std::vector<uint8_t> mutate(const std::vector<uint8_t>& seed, std::mt19937_64& rng) {
  std::vector<uint8_t> m = seed;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t n = m.size();
    switch (rng() % 7) {
      case 0:
        if (n) m[rng() % n] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        if (n) m[rng() % n] = static_cast<uint8_t>(rng());
        break;
      case 2:
        m.insert(m.begin() + static_cast<ptrdiff_t>(n ? rng() % (n + 1) : 0),
                 static_cast<uint8_t>(rng()));
        break;
      case 3:
        if (n) m.erase(m.begin() + static_cast<ptrdiff_t>(rng() % n));
        break;
      case 4:
        if (n) m.resize(rng() % n);
        break;
      case 5: {  // duplicate a slice
        if (n < 2) break;
        const size_t a = rng() % n, len = 1 + rng() % std::min<size_t>(16, n - a);
        std::vector<uint8_t> s(m.begin() + a, m.begin() + a + len);
        m.insert(m.begin() + static_cast<ptrdiff_t>(rng() % (m.size() + 1)), s.begin(), s.end());
        break;
      }
      default: {  // interesting bytes
        static const uint8_t kInteresting[] = {0x00, 0xFF, 0x7F, 0x80, 0x9F, 0xBF, 0x5F, 0x7F,
                                               0x1B, 0x5B, 0x9B, 0xD2, 0xF6, '|',  '"',  '{',
                                               '}',  '[',  ']',  ',',  ':',  '\\', '0',  'e'};
        if (n) m[rng() % n] = kInteresting[rng() % sizeof kInteresting];
      }
    }
  }
  return m;
}

std::vector<std::vector<uint8_t>> ocmf_seeds() {
  std::vector<std::vector<uint8_t>> out;
  std::istringstream in(
      test::read_text(std::string(ASSAY_SOURCE_DIR) + "/tests/data/ocmf/real_records.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    const std::string rec = nlohmann::json::parse(line).at("record");
    out.emplace_back(rec.begin(), rec.end());
  }
  return out;
}

TEST(Robustness, OcmfMutations) {
  const auto seeds = ocmf_seeds();
  std::mt19937_64 rng(15);
  OcmfRecord r;
  OcmfChecker checker;
  OcmfCheckState state;
  size_t ok = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20000; ++i) {
    const auto in = mutate(seeds[rng() % seeds.size()], rng);
    OcmfParseOptions o;
    o.allow_legacy_curves = true;
    if (parse_ocmf(in, o, r) != OcmfError::kNone) continue;
    ++ok;
    ASSERT_GE(r.payload.data(), in.data());
    ASSERT_LE(r.payload.data() + r.payload.size(), in.data() + in.size());
    ASSERT_FALSE(r.readings.empty());
    ASSERT_EQ(r.signature_raw().size(), 2 * ocmf_algorithm_field_bytes(r.algorithm));
    std::string buf;
    checker.check(state, r, ocmf_signer_id(r, buf));
    for (const auto& e : r.extras) ASSERT_LE(e.value.size(), in.size());
  }
  EXPECT_GT(ok, 100u);  // the mutations keep some records valid (a useful mix)
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

std::vector<std::vector<uint8_t>> cbor_seeds() {
  std::vector<std::vector<uint8_t>> out;
  const std::vector<uint8_t> sig(64, 7);
  for (int alg : {-7, -8}) {
    Cbor payload;
    payload.array(2)
        .map(4)
        .neg(-2)
        .text("dev:")
        .neg(-3)
        .uint(1700000000)
        .uint(0)
        .text("t")
        .uint(2)
        .f64(21.5);
    payload.map(3).uint(0).text("h").uint(6).uint(1).uint(2).uint(40);
    Cbor c;
    c.tag(18).array(4).bstr(Cbor().map(2).uint(1).integer(alg).uint(3).uint(112));
    c.map(1).uint(4).bstr("kid").bstr(payload).bstr(sig);
    out.push_back(c.b);
    out.push_back(payload.b);
  }
  Cbor mac;
  mac.tag(17).array(4).bstr(Cbor().map(1).uint(1).uint(5)).map(1).uint(4).bstr("k").bstr("x");
  mac.bstr(std::vector<uint8_t>(32, 1));
  out.push_back(mac.b);
  return out;
}

TEST(Robustness, CoseAndSenmlCborMutations) {
  const auto seeds = cbor_seeds();
  std::mt19937_64 rng(9052);
  SenmlPack pack;
  SenmlReplayChecker checker;
  SenmlReplayState state;
  size_t cose_ok = 0, senml_ok = 0;
  for (int i = 0; i < 30000; ++i) {
    const auto in = mutate(seeds[rng() % seeds.size()], rng);
    CoseMessage m;
    if (parse_cose(in, {}, m) == CoseError::kNone) {
      ++cose_ok;
      std::vector<uint8_t> tbs(cose_to_be_signed_size(m));
      ASSERT_EQ(cose_build_to_be_signed(m, tbs), tbs.size());
      if (parse_senml_cbor(m.payload, {}, pack) == SenmlError::kNone) checker.check(state, pack);
    }
    if (parse_senml_cbor(in, {}, pack) == SenmlError::kNone) {
      ++senml_ok;
      for (const auto& rec : pack.records) ASSERT_FALSE(rec.name.empty());
      checker.check(state, pack);
    }
  }
  EXPECT_GT(cose_ok, 100u);
  EXPECT_GT(senml_ok, 100u);
}

TEST(Robustness, SenmlJsonMutations) {
  const std::string seed =
      R"([{"bn":"urn:dev:ow:10e2073a0108006:","bt":1276020076.001,"bu":"A","bver":10,"n":"voltage","u":"V","v":120.1},{"n":"current","t":-5,"v":1.2,"x":{"y":[1,2]}},{"n":"c2","s":3,"ut":5}])";
  std::mt19937_64 rng(8428);
  SenmlPack pack;
  SenmlParseOptions o;
  o.accept_non_numeric = true;
  size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto in = mutate({seed.begin(), seed.end()}, rng);
    ok += parse_senml_json(in, o, pack) == SenmlError::kNone;
  }
  EXPECT_GT(ok, 100u);
}

TEST(Robustness, PathologicalShapes) {
  // Deep nesting: refused by the depth limits, without recursion.
  const std::string deep_json(1 << 20, '[');
  OcmfParseOptions big;
  big.max_record_bytes = 4 << 20;
  OcmfRecord r;
  EXPECT_EQ(parse_ocmf(test::bytes("OCMF|" + deep_json + "|{}"), big, r), OcmfError::kNotObject);
  EXPECT_EQ(parse_ocmf(test::bytes("OCMF|{\"XX\":" + deep_json + "|{}"), big, r),
            OcmfError::kTooDeep);
  SenmlParseOptions sbig;
  sbig.max_pack_bytes = 4 << 20;
  SenmlPack p;
  EXPECT_EQ(parse_senml_json(test::bytes(deep_json), sbig, p), SenmlError::kRecordNotMap);
  std::vector<uint8_t> deep_cbor = {0xD2, 0x84, 0x43, 0xA1, 0x01, 0x26, 0xA1, 0x18, 0x63};
  deep_cbor.insert(deep_cbor.end(), 1 << 20, 0x81);
  CoseParseOptions cbig;
  cbig.max_message_bytes = 4 << 20;
  CoseMessage m;
  EXPECT_EQ(parse_cose(deep_cbor, cbig, m), CoseError::kTooDeep);
  // Huge declared lengths and counts.
  for (const std::vector<uint8_t>& in :
       {std::vector<uint8_t>{0x9B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
        std::vector<uint8_t>{0x81, 0xBB, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
        std::vector<uint8_t>{0x81, 0xA1, 0x00, 0x7B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                             0xFF}}) {
    EXPECT_NE(parse_senml_cbor(in, {}, p), SenmlError::kNone);
    EXPECT_NE(parse_cose(in, {}, m), CoseError::kNone);
  }
  // Many records, each allowed: the resolution stays linear.
  std::string many = "[";
  for (int i = 0; i < 1024; ++i)
    many +=
        std::string(i ? "," : "") + R"({"n":"s)" + std::to_string(i) + R"(","t":1700000000,"v":1})";
  many += "]";
  EXPECT_EQ(parse_senml_json(test::bytes(many), {}, p), SenmlError::kNone);
  SenmlReplayChecker c;
  SenmlReplayState s;
  EXPECT_TRUE(c.check(s, p).ok());
  EXPECT_FALSE(c.check(s, p).ok());
}

}  // namespace
}  // namespace assay::formats
