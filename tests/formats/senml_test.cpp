// SenML (RFC 8428) in CBOR and JSON: resolution of base fields, the RFC's examples, and one
// test per error path in each representation.
#include "formats/senml.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cbor_builder.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::bytes;
using test::Cbor;

constexpr int64_t kSec = 1'000'000'000;

SenmlError cbor(const std::vector<uint8_t>& in, SenmlPack& p, const SenmlParseOptions& o = {}) {
  return parse_senml_cbor(in, o, p);
}
SenmlError json(const std::string& in, SenmlPack& p, const SenmlParseOptions& o = {}) {
  return parse_senml_json(bytes(in), o, p);
}

#define EXPECT_CBOR(in, code, ...)                                                   \
  do {                                                                               \
    SenmlPack p_;                                                                    \
    EXPECT_EQ(senml_error_name(cbor(in, p_, ##__VA_ARGS__)), senml_error_name(code)) \
        << test::hex(in);                                                            \
  } while (0)
#define EXPECT_JSON(in, code, ...)                                                            \
  do {                                                                                        \
    SenmlPack p_;                                                                             \
    EXPECT_EQ(senml_error_name(json(in, p_, ##__VA_ARGS__)), senml_error_name(code)) << (in); \
  } while (0)

// RFC 8428 §6, the CBOR example (figure 9, diagnostic notation), with bver 10.
std::vector<uint8_t> rfc_cbor_example() {
  Cbor c;
  c.array(7).map(7).neg(-2).text("urn:dev:ow:10e2073a0108006:").neg(-3).f64(1276020076.001);
  c.neg(-4).text("A").neg(-1).uint(10).uint(0).text("voltage").uint(1).text("V").uint(2).f64(120.1);
  const double v[] = {1.2, 1.3, 1.4, 1.5, 1.6, 1.7};
  for (int i = 0; i < 6; ++i)
    c.map(3).uint(0).text("current").uint(6).integer(i - 5).uint(2).f64(v[i]);
  return c.b;
}

// The same pack in the JSON representation (RFC 8428 §5.1.3).
const std::string kRfcJsonExample = R"([
  {"bn":"urn:dev:ow:10e2073a0108006:","bt":1276020076.001,"bu":"A","bver":10,
   "n":"voltage","u":"V","v":120.1},
  {"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},
  {"n":"current","t":-3,"v":1.4},{"n":"current","t":-2,"v":1.5},
  {"n":"current","t":-1,"v":1.6},{"n":"current","t":0,"v":1.7}])";

void check_rfc_example(const SenmlPack& p) {
  ASSERT_EQ(p.records.size(), 7u);
  EXPECT_EQ(p.version, 10u);
  const SenmlRecord& v = p.records[0];
  EXPECT_EQ(v.name, "urn:dev:ow:10e2073a0108006:voltage");
  EXPECT_EQ(v.unit, "V");
  EXPECT_EQ(v.kind, SenmlValueKind::kNumber);
  EXPECT_EQ(v.value, 120.1);
  // 1276020076.001 s as a double, to the nanosecond (the double is 1276020076.00099992...).
  EXPECT_NEAR(static_cast<double>(v.time_ns - 1276020076 * kSec), 1e6, 100);
  for (int i = 1; i < 7; ++i) {
    EXPECT_EQ(p.records[i].name, "urn:dev:ow:10e2073a0108006:current");
    EXPECT_EQ(p.records[i].unit, "A");  // base unit
    EXPECT_EQ(p.records[i].time_ns, v.time_ns + (i - 6) * kSec);
  }
  EXPECT_EQ(p.records[6].value, 1.7);
}

TEST(Senml, RfcExampleCbor) {
  SenmlPack p;
  const auto in = rfc_cbor_example();
  ASSERT_EQ(cbor(in, p), SenmlError::kNone);
  check_rfc_example(p);
}

TEST(Senml, RfcExampleJson) {
  SenmlPack p;
  ASSERT_EQ(json(kRfcJsonExample, p), SenmlError::kNone);
  check_rfc_example(p);
}

TEST(Senml, RelativeTimesAreRefused) {
  // RFC 8428 §5.1.2: "t":0 without a base time means "now".
  EXPECT_JSON(R"([{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","t":0,"u":"V","v":120.1}])",
              SenmlError::kRelativeTime);
  EXPECT_JSON(R"([{"n":"x","v":1}])", SenmlError::kRelativeTime);
  EXPECT_JSON(R"([{"n":"x","v":1,"t":268435455}])", SenmlError::kRelativeTime);
  SenmlPack p;
  ASSERT_EQ(json(R"([{"n":"x","v":1,"t":268435456}])", p), SenmlError::kNone);
  EXPECT_EQ(p.records[0].time_ns, 268435456 * kSec);
  EXPECT_JSON(R"([{"n":"x","bt":1700000000,"t":-1500000000,"v":1}])", SenmlError::kRelativeTime);
}

TEST(Senml, ValueKindsSumsAndBases) {
  SenmlParseOptions o;
  o.accept_non_numeric = true;
  SenmlPack p;
  ASSERT_EQ(json(R"([
    {"bn":"dev1/","bt":1700000000,"bv":10,"bs":100,"bu":"W","n":"a","v":1.5,"s":2,"ut":60},
    {"n":"b","vb":true},{"n":"c","vs":"on"},{"n":"d","vd":"AQID"},{"n":"e","s":5,"u":"J"},
    {"bn":"dev2","v":0}])",
                 p, o),
            SenmlError::kNone);
  ASSERT_EQ(p.records.size(), 6u);
  const auto& r = p.records;
  EXPECT_EQ(r[0].value, 11.5);  // bv + v
  EXPECT_TRUE(r[0].has_sum);
  EXPECT_EQ(r[0].sum, 102);  // bs + s
  EXPECT_TRUE(r[0].has_update_time);
  EXPECT_EQ(r[0].update_time, 60);
  EXPECT_EQ(r[0].time_ns, 1700000000 * kSec);
  EXPECT_EQ(r[1].kind, SenmlValueKind::kBool);
  EXPECT_EQ(r[1].value, 1.0);
  EXPECT_TRUE(r[1].has_sum);  // bs alone gives a sum (RFC 8428 §4.5.4)
  EXPECT_EQ(r[1].sum, 100);
  EXPECT_EQ(r[2].kind, SenmlValueKind::kString);
  EXPECT_EQ(r[2].string_value, "on");
  EXPECT_TRUE(std::isnan(r[2].value));
  EXPECT_EQ(r[3].kind, SenmlValueKind::kData);
  EXPECT_EQ(test::hex(r[3].data_value), "010203");
  EXPECT_EQ(r[4].kind, SenmlValueKind::kSumOnly);
  EXPECT_EQ(r[4].value, 105);
  EXPECT_EQ(r[4].unit, "J");
  EXPECT_EQ(r[3].unit, "W");
  EXPECT_EQ(r[5].name, "dev2");  // base name alone
  EXPECT_EQ(r[5].value, 10);
  // The same pack in CBOR gives the same records.
  Cbor c;
  c.array(6)
      .map(10)
      .neg(-2)
      .text("dev1/")
      .neg(-3)
      .uint(1700000000)
      .neg(-5)
      .uint(10)
      .neg(-6)
      .uint(100);
  c.neg(-4).text("W").uint(0).text("a").uint(2).f64(1.5).uint(5).uint(2).uint(7).uint(60);
  c.text("ignored").array(2).uint(1).map(0);  // unknown extension field
  c.map(2).uint(0).text("b").uint(4).boolean(true);
  c.map(2).uint(0).text("c").uint(3).text("on");
  c.map(2).uint(0).text("d").uint(8).bstr(std::string("\x01\x02\x03"));
  c.map(3).uint(0).text("e").uint(5).uint(5).uint(1).text("J");
  c.map(2).neg(-2).text("dev2").uint(2).uint(0);
  SenmlPack q;
  ASSERT_EQ(cbor(c.b, q, o), SenmlError::kNone);
  ASSERT_EQ(q.records.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(q.records[i].name, r[i].name);
    EXPECT_EQ(q.records[i].time_ns, r[i].time_ns);
    EXPECT_EQ(q.records[i].unit, r[i].unit);
    EXPECT_EQ(q.records[i].kind, r[i].kind);
    EXPECT_EQ(q.records[i].sum, r[i].sum);
    if (r[i].kind != SenmlValueKind::kString && r[i].kind != SenmlValueKind::kData) {
      EXPECT_EQ(q.records[i].value, r[i].value);
    }
  }
  EXPECT_EQ(test::hex(q.records[3].data_value), "010203");
}

TEST(Senml, FractionalAndNegativeTimes) {
  SenmlPack p;
  ASSERT_EQ(json(R"([{"n":"x","bt":1700000000.5,"t":-0.25,"v":1}])", p), SenmlError::kNone);
  EXPECT_EQ(p.records[0].time_ns, 1700000000 * kSec + 250'000'000);
  ASSERT_EQ(
      cbor(Cbor().array(1).map(3).uint(0).text("x").uint(6).uint(9000000000).uint(2).uint(1).b, p),
      SenmlError::kNone);
  EXPECT_EQ(p.records[0].time_ns, 9000000000 * kSec);
}

TEST(Senml, PackReuseAndMove) {
  SenmlPack p;
  ASSERT_EQ(json(kRfcJsonExample, p), SenmlError::kNone);
  ASSERT_EQ(json(R"([{"n":"solo","t":1700000000,"v":3}])", p), SenmlError::kNone);
  ASSERT_EQ(p.records.size(), 1u);
  SenmlPack moved = std::move(p);
  EXPECT_EQ(moved.records[0].name, "solo");
  ASSERT_EQ(json(kRfcJsonExample, moved), SenmlError::kNone);
  SenmlPack m2 = std::move(moved);
  EXPECT_EQ(m2.records[3].name, "urn:dev:ow:10e2073a0108006:current");
}

// ---- errors --------------------------------------------------------------------------------

// One record {n: "x", t: 1700000000, <fields>}.
Cbor rec(int extra_fields) {
  Cbor c;
  c.map(2 + extra_fields).uint(0).text("x").uint(6).uint(1700000000);
  return c;
}
std::vector<uint8_t> pack1(const Cbor& r) {
  return Cbor().array(1).append(r).b;
}

TEST(SenmlErrors, CborFraming) {
  const auto good = pack1(rec(1).uint(2).uint(1));
  SenmlPack p;
  ASSERT_EQ(cbor(good, p), SenmlError::kNone);
  SenmlParseOptions small;
  small.max_pack_bytes = 4;
  EXPECT_CBOR(good, SenmlError::kTooLarge, small);
  auto cut = good;
  cut.pop_back();
  EXPECT_CBOR(cut, SenmlError::kTruncated);
  EXPECT_CBOR(std::vector<uint8_t>{}, SenmlError::kTruncated);
  EXPECT_CBOR(pack1(rec(1).uint(3).raw({0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})),
              SenmlError::kTruncated);
  EXPECT_CBOR((std::vector<uint8_t>{0x81, 0x1C}), SenmlError::kMalformed);
  EXPECT_CBOR((std::vector<uint8_t>{0x81, 0xFF}), SenmlError::kMalformed);
  EXPECT_CBOR((std::vector<uint8_t>{0x9F, 0xFF}), SenmlError::kIndefiniteLength);
  EXPECT_CBOR((std::vector<uint8_t>{0x81, 0xBF, 0xFF}), SenmlError::kIndefiniteLength);
  EXPECT_CBOR(pack1(rec(1).uint(0 + 3).raw({0x7F, 0x61, 0x61, 0xFF})),
              SenmlError::kIndefiniteLength);
  Cbor deep = rec(2).uint(2).uint(1).text("ext");
  for (int i = 0; i < 20; ++i) deep.array(1);
  deep.uint(0);
  EXPECT_CBOR(pack1(deep), SenmlError::kTooDeep);
  auto trailing = good;
  trailing.push_back(0x00);
  EXPECT_CBOR(trailing, SenmlError::kTrailingBytes);
  EXPECT_CBOR(Cbor().map(0).b, SenmlError::kNotArray);
  EXPECT_CBOR(Cbor().array(0).b, SenmlError::kEmptyPack);
  SenmlParseOptions few;
  few.max_records = 1;
  EXPECT_CBOR(Cbor().array(2).append(rec(1).uint(2).uint(1)).append(rec(1).uint(2).uint(1)).b,
              SenmlError::kTooManyRecords, few);
  // A pack claiming 2^32 records is refused by the limit before reading any.
  EXPECT_CBOR(Cbor().array(0xFFFFFFFFu).b, SenmlError::kTooManyRecords);
  EXPECT_CBOR(Cbor().array(1).array(0).b, SenmlError::kRecordNotMap);
}

TEST(SenmlErrors, CborFields) {
  EXPECT_CBOR(pack1(rec(1).bstr("v").uint(1)), SenmlError::kLabelInvalid);
  EXPECT_CBOR(pack1(rec(1).f64(2).uint(1)), SenmlError::kLabelInvalid);
  EXPECT_CBOR(pack1(rec(1).raw({0x3B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}).uint(1)),
              SenmlError::kLabelInvalid);
  EXPECT_CBOR(pack1(rec(2).uint(2).uint(1).uint(2).uint(2)), SenmlError::kDuplicateField);
  EXPECT_CBOR(pack1(rec(3).uint(2).uint(1).uint(99).uint(1).uint(99).uint(2)),
              SenmlError::kDuplicateField);
  EXPECT_CBOR(pack1(rec(3).uint(2).uint(1).text("x").uint(1).text("x").uint(2)),
              SenmlError::kDuplicateField);
  SenmlParseOptions few;
  few.max_fields = 2;
  EXPECT_CBOR(pack1(rec(1).uint(2).uint(1)), SenmlError::kTooManyFields, few);
  EXPECT_CBOR(pack1(Cbor().map(1000)), SenmlError::kTooManyFields);
  EXPECT_CBOR(pack1(rec(1).uint(2).text("1")), SenmlError::kWrongType);  // v as text
  EXPECT_CBOR(pack1(Cbor().map(3).uint(0).uint(5).uint(6).uint(1700000000).uint(2).uint(1)),
              SenmlError::kWrongType);                                                 // n as int
  EXPECT_CBOR(pack1(rec(1).uint(4).uint(1)), SenmlError::kWrongType);                  // vb as int
  EXPECT_CBOR(pack1(rec(1).uint(8).text("AQID")), SenmlError::kWrongType);             // vd as text
  EXPECT_CBOR(pack1(rec(2).neg(-1).neg(-5).uint(2).uint(1)), SenmlError::kWrongType);  // bver < 0
  EXPECT_CBOR(pack1(rec(2).neg(-1).f64(10).uint(2).uint(1)), SenmlError::kWrongType);
  // A decimal fraction (tag 4): 4([-1, 15]) = 1.5.
  EXPECT_CBOR(pack1(rec(1).uint(2).tag(4).array(2).neg(-1).uint(15)), SenmlError::kWrongType);
  EXPECT_CBOR(pack1(rec(1).uint(3).text("\xC3\x28")), SenmlError::kInvalidUtf8);
  EXPECT_CBOR(pack1(rec(2).text("\xFF").uint(1).uint(2).uint(1)), SenmlError::kInvalidUtf8);
  SenmlParseOptions shorter;
  shorter.max_string_bytes = 3;
  EXPECT_CBOR(pack1(rec(1).uint(1).text("abcd")), SenmlError::kFieldTooLong, shorter);
  EXPECT_CBOR(pack1(rec(1).uint(8).bstr("abcd")), SenmlError::kFieldTooLong, shorter);
  EXPECT_CBOR(pack1(rec(2).text("crit_").uint(1).uint(2).uint(1)),
              SenmlError::kUnknownMandatoryField);
  uint8_t nan[] = {0xFB, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0};
  Cbor r = rec(1).uint(2);
  r.b.insert(r.b.end(), std::begin(nan), std::end(nan));
  EXPECT_CBOR(pack1(r), SenmlError::kValueNotFinite);
  EXPECT_CBOR(pack1(rec(1).uint(2).raw({0xF9, 0x7C, 0x00})), SenmlError::kValueNotFinite);  // +inf
}

TEST(SenmlErrors, JsonFraming) {
  const std::string good = R"([{"n":"x","t":1700000000,"v":1}])";
  SenmlPack p;
  ASSERT_EQ(json(good, p), SenmlError::kNone);
  SenmlParseOptions small;
  small.max_pack_bytes = 4;
  EXPECT_JSON(good, SenmlError::kTooLarge, small);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1})", SenmlError::kInvalidJson);
  EXPECT_JSON(good + "x", SenmlError::kInvalidJson);
  EXPECT_JSON(R"([{"n":"x\xC3\x28","t":1700000000,"v":1}])", SenmlError::kInvalidJson);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1e999}])", SenmlError::kInvalidJson);
  EXPECT_JSON("", SenmlError::kInvalidJson);
  std::string deep = "1";
  for (int i = 0; i < 20; ++i) deep = "[" + deep + "]";
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1,"ext":)" + deep + "}]", SenmlError::kTooDeep);
  EXPECT_JSON(R"({"n":"x"})", SenmlError::kNotArray);
  EXPECT_JSON("5", SenmlError::kNotArray);
  EXPECT_JSON("[]", SenmlError::kEmptyPack);
  SenmlParseOptions few;
  few.max_records = 1;
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1},{"n":"x","t":1700000001,"v":1}])",
              SenmlError::kTooManyRecords, few);
  EXPECT_JSON("[[]]", SenmlError::kRecordNotMap);
  EXPECT_JSON("[1]", SenmlError::kRecordNotMap);
}

TEST(SenmlErrors, JsonFields) {
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1,"v":2}])", SenmlError::kDuplicateField);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1,"e":1,"e":2}])", SenmlError::kDuplicateField);
  SenmlParseOptions few;
  few.max_fields = 2;
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1}])", SenmlError::kTooManyFields, few);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":"1"}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"n":5,"t":1700000000,"v":1}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vb":1}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vd":7}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":[1]}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":null}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"bver":10.0,"n":"x","t":1700000000,"v":1}])", SenmlError::kWrongType);
  EXPECT_JSON(R"([{"bver":-1,"n":"x","t":1700000000,"v":1}])", SenmlError::kWrongType);
  SenmlParseOptions shorter;
  shorter.max_string_bytes = 3;
  EXPECT_JSON(R"([{"n":"x","u":"abcd","t":1700000000,"v":1}])", SenmlError::kFieldTooLong, shorter);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1,"crit_":1}])", SenmlError::kUnknownMandatoryField);
  SenmlParseOptions o;
  o.accept_non_numeric = true;
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vd":"AQ=="}])", SenmlError::kDataInvalid, o);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vd":"A+/B"}])", SenmlError::kDataInvalid, o);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vd":"A"}])", SenmlError::kDataInvalid, o);
}

TEST(SenmlErrors, Resolution) {
  EXPECT_JSON(R"([{"bver":11,"n":"x","t":1700000000,"v":1}])", SenmlError::kUnsupportedVersion);
  EXPECT_JSON(R"([{"bver":0,"n":"x","t":1700000000,"v":1}])", SenmlError::kUnsupportedVersion);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1},{"bver":9,"n":"y","t":1700000000,"v":1}])",
              SenmlError::kVersionMismatch);
  SenmlPack p;
  ASSERT_EQ(
      json(R"([{"bver":9,"n":"x","t":1700000000,"v":1},{"bver":9,"n":"y","t":1700000000,"v":1}])",
           p),
      SenmlError::kNone);
  EXPECT_EQ(p.version, 9u);
  for (const char* n : {"", "-x", "_x", "a b", "a\\u00e9", "x#1", "x?"})
    EXPECT_JSON(std::string(R"([{"n":")") + n + R"(","t":1700000000,"v":1}])",
                SenmlError::kInvalidName);
  EXPECT_JSON(R"([{"t":1700000000,"v":1}])", SenmlError::kInvalidName);  // no name at all
  SenmlParseOptions names;
  names.max_name_bytes = 8;
  EXPECT_JSON(R"([{"bn":"abcde","n":"fghij","t":1700000000,"v":1}])", SenmlError::kFieldTooLong,
              names);
  EXPECT_JSON(R"([{"n":"x","t":1700000000}])", SenmlError::kNoValue);
  EXPECT_JSON(R"([{"n":"x","bt":1700000000,"bv":1}])", SenmlError::kNoValue);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"v":1,"vb":true}])", SenmlError::kMultipleValues);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vs":"a","vd":"AQ"}])", SenmlError::kMultipleValues);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vs":"on"}])", SenmlError::kNonNumericValue);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"vd":"AQ"}])", SenmlError::kNonNumericValue);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"bv":1e308,"v":1e308}])", SenmlError::kValueNotFinite);
  EXPECT_JSON(R"([{"n":"x","t":1700000000,"bs":1e308,"s":1e308}])", SenmlError::kValueNotFinite);
  EXPECT_JSON(R"([{"n":"x","t":1e300,"v":1}])", SenmlError::kTimeOutOfRange);
  EXPECT_JSON(R"([{"n":"x","bt":9000000000,"t":9000000000,"v":1}])", SenmlError::kTimeOutOfRange);
  EXPECT_JSON(R"([{"n":"x","t":9223372036854775807,"v":1}])", SenmlError::kTimeOutOfRange);
  EXPECT_CBOR(pack1(Cbor().map(2).uint(0).text("x").uint(2).uint(1)), SenmlError::kRelativeTime);
}

TEST(SenmlErrors, NamesAreStableAndDistinct) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(SenmlError::kDataInvalid); ++i)
    names.insert(senml_error_name(static_cast<SenmlError>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(SenmlError::kDataInvalid) + 1);
  EXPECT_EQ(senml_error_name(SenmlError::kRelativeTime), "senml.relative_time");
}

}  // namespace
}  // namespace assay::formats
