// The CBOR pull reader over libcbor, UTF-8 validation, and the strict text/DER decoders.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <cstring>

#include "cbor_builder.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "formats/cbor_reader.hpp"
#include "formats/encoding.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::Cbor;

CborItem one(const std::vector<uint8_t>& in, CborStatus want = CborStatus::kOk) {
  CborReader r(in);
  CborItem it;
  EXPECT_EQ(r.next(it), want);
  if (want == CborStatus::kOk) {
    EXPECT_TRUE(r.at_end());
  } else {
    EXPECT_EQ(r.offset(), 0u);  // nothing consumed on failure
  }
  return it;
}

TEST(CborReader, EveryHeadKind) {
  EXPECT_EQ(one(Cbor().uint(0).b).u, 0u);
  EXPECT_EQ(one(Cbor().uint(500).b).u, 500u);
  EXPECT_EQ(one(Cbor().uint(UINT64_MAX).b).u, UINT64_MAX);
  auto n = one(Cbor().neg(-1000).b);
  EXPECT_EQ(n.type, CborType::kNegint);
  EXPECT_EQ(n.u, 999u);
  const auto abc = Cbor().bstr("abc").b;  // views point into the input: keep it alive
  auto s = one(abc);
  EXPECT_EQ(s.type, CborType::kBytes);
  EXPECT_EQ(s.text(), "abc");
  const auto hello = Cbor().text("héllo").b;
  EXPECT_EQ(one(hello).text(), "héllo");
  EXPECT_EQ(one(Cbor().array(3).b).u, 3u);
  EXPECT_EQ(one(Cbor().map(2).b).type, CborType::kMap);
  EXPECT_EQ(one(Cbor().f64(2.5).b).f, 2.5);
  EXPECT_EQ(one({0xF9, 0x3C, 0x00}).f, 1.0);        // half
  EXPECT_EQ(one({0xFA, 0x3F, 0xC0, 0, 0}).f, 1.5);  // single
  EXPECT_TRUE(one({0xF5}).b);
  EXPECT_EQ(one({0xF6}).type, CborType::kNull);
  EXPECT_EQ(one({0xF7}).type, CborType::kUndefined);
  EXPECT_EQ(one({0x9F}).type, CborType::kIndefinite);
  EXPECT_EQ(one({0x5F}).type, CborType::kIndefinite);
  EXPECT_EQ(one({0xFF}).type, CborType::kBreak);
}

TEST(CborReader, OneByteTagsThatLibcbor08Refuses) {
  // 0xC6..0xD4 are tags 6..20 (libcbor 0.8 reports an error for them); 17 and 18 are COSE's.
  for (uint8_t b = 0xC0; b <= 0xD7; ++b) {
    const auto it = one({b});
    EXPECT_EQ(it.type, CborType::kTag);
    EXPECT_EQ(it.u, static_cast<uint64_t>(b - 0xC0));
  }
  EXPECT_EQ(one({0xD8, 0x12}).u, 18u);
  EXPECT_EQ(one(Cbor().tag(1234567).b).u, 1234567u);
}

TEST(CborReader, TruncationAndMalformation) {
  one({}, CborStatus::kEnd);
  one({0x19, 0x01}, CborStatus::kTruncated);
  one({0x43, 'a', 'b'}, CborStatus::kTruncated);
  // A declared length far beyond the input: reported, not allocated.
  one({0x5B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, CborStatus::kTruncated);
  one({0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'x'}, CborStatus::kTruncated);
  for (uint8_t b : {0x1C, 0x3D, 0x5C, 0x7E, 0x9C, 0xBE, 0xDC, 0xE0, 0xF3, 0xFC})
    one({b}, CborStatus::kMalformed);
  one({0xF8, 0x20}, CborStatus::kMalformed);  // unassigned simple value
}

TEST(CborReader, SkipNestedValues) {
  Cbor c;
  c.array(3).uint(1).map(1).text("k").array(2).bstr("x").tag(1).uint(5).text("end");
  c.uint(99);
  CborReader r(c.b);
  CborItem first;
  ASSERT_EQ(r.next(first), CborStatus::kOk);
  bool indef = false, deep = false;
  ASSERT_EQ(r.skip(first, 8, &indef, &deep), CborStatus::kOk);
  CborItem after;
  ASSERT_EQ(r.next(after), CborStatus::kOk);
  EXPECT_EQ(after.u, 99u);
  EXPECT_TRUE(r.at_end());
}

TEST(CborReader, SkipRefusesIndefiniteDeepAndTruncated) {
  auto run = [](const std::vector<uint8_t>& in, int depth, bool* indef, bool* deep) {
    CborReader r(in);
    CborItem first;
    EXPECT_EQ(r.next(first), CborStatus::kOk);
    *indef = *deep = false;
    return r.skip(first, depth, indef, deep);
  };
  bool indef, deep;
  EXPECT_EQ(run({0x82, 0x01, 0x9F, 0xFF}, 8, &indef, &deep), CborStatus::kMalformed);
  EXPECT_TRUE(indef);
  EXPECT_EQ(run({0x9F, 0xFF}, 8, &indef, &deep), CborStatus::kMalformed);
  EXPECT_TRUE(indef);
  std::vector<uint8_t> nest(20, 0x81);
  nest.push_back(0x00);
  EXPECT_EQ(run(nest, 8, &indef, &deep), CborStatus::kMalformed);
  EXPECT_TRUE(deep);
  EXPECT_EQ(run(nest, 32, &indef, &deep), CborStatus::kOk);
  // Wide but shallow is fine at depth 2.
  EXPECT_EQ(run({0x83, 0x81, 0x01, 0x81, 0x02, 0x80}, 2, &indef, &deep), CborStatus::kOk);
  EXPECT_EQ(run({0x81, 0x81, 0x81, 0x01}, 2, &indef, &deep), CborStatus::kMalformed);
  EXPECT_TRUE(deep);
  // An array claiming 2^64-1 elements ends at the input's end, without allocating.
  EXPECT_EQ(
      run({0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02}, 8, &indef, &deep),
      CborStatus::kTruncated);
  EXPECT_EQ(run({0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 8, &indef, &deep),
            CborStatus::kTruncated);
  EXPECT_EQ(run({0x82, 0x01, 0xFF}, 8, &indef, &deep), CborStatus::kMalformed);  // stray break
  EXPECT_FALSE(indef);
}

TEST(Utf8, AcceptsWellFormedRefusesTheRest) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));                      // U+10FFFF
  for (const char* bad :
       {"\x80", "\xC3", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF0\x80\x80\xAF",
        "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xE2\x82", "\xC3\x28", "\xFF"})
    EXPECT_FALSE(valid_utf8(bad)) << test::hex(test::bytes(bad));
}

TEST(Encoding, Hex) {
  uint8_t out[4];
  EXPECT_EQ(decode_hex("00aAfF10", out), 4);
  EXPECT_EQ(out[1], 0xAA);
  EXPECT_EQ(out[2], 0xFF);
  EXPECT_EQ(decode_hex("", out), 0);
  EXPECT_EQ(decode_hex("abc", out), -1);
  EXPECT_EQ(decode_hex("zz", out), -1);
  EXPECT_EQ(decode_hex("0x", out), -1);
  EXPECT_EQ(decode_hex("0011223344", out), -1);  // does not fit
}

TEST(Encoding, Base64AndBase64url) {
  uint8_t out[16];
  EXPECT_EQ(decode_base64("TWFu", out), 3);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), 3), "Man");
  EXPECT_EQ(decode_base64("TWE=", out), 2);
  EXPECT_EQ(decode_base64("TQ==", out), 1);
  EXPECT_EQ(decode_base64("+/+/", out), 3);
  EXPECT_EQ(decode_base64("", out), 0);
  for (const char* bad :
       {"TQ", "TQ=", "TR==", "TWF=", "T===", "====", "TW E", "TQ==TQ==", "-_-_", "TWFu\n"})
    EXPECT_EQ(decode_base64(bad, out), -1) << bad;
  EXPECT_EQ(decode_base64url("-_-_", out), 3);
  EXPECT_EQ(decode_base64url("TQ", out), 1);
  EXPECT_EQ(decode_base64url("TWE", out), 2);
  for (const char* bad : {"TQ==", "T", "TR", "+/+/", "TWF"})
    EXPECT_EQ(decode_base64url(bad, out), -1) << bad;
  EXPECT_EQ(decode_base64("AAAAAAAAAAAAAAAAAAAAAAAA", std::span(out, 16)), -1);  // 18 > 16
}

TEST(Encoding, DerAgreesWithCryptoForRandomP256Signatures) {
  // Random r, s (including short ones with leading zero bytes) through OpenSSL's DER encoder:
  // formats' decoder and crypto's P-256 decoder must give the same r||s.
  for (int i = 0; i < 2000; ++i) {
    uint8_t raw[64];
    RAND_bytes(raw, sizeof raw);
    if (i % 7 == 0) std::fill(raw, raw + (i % 20), 0);
    if (i % 11 == 0) std::fill(raw + 32, raw + 32 + (i % 30), 0);
    const auto der = test::raw_to_der(raw);
    uint8_t a[64], b[64];
    ASSERT_TRUE(ecdsa_der_to_raw(der, 32, a));
    ASSERT_TRUE(crypto::ecdsa_der_to_p1363(der, b));
    ASSERT_EQ(0, std::memcmp(a, b, 64));
    ASSERT_EQ(0, std::memcmp(a, raw, 64));
  }
}

TEST(Encoding, DerRefusesNonDer) {
  uint8_t out[96];
  const std::string r32(64, '1'), s32(64, '2');
  auto der = [](const std::string& h) { return test::unhex(h); };
  EXPECT_TRUE(ecdsa_der_to_raw(der("3044"
                                   "0220" +
                                   r32 + "0220" + s32),
                               32, out));
  for (const std::string& bad : {std::string("3045"
                                             "0220" +
                                             r32 + "0220" + s32 + "00"),  // trailing byte
                                 std::string("3043"
                                             "0220" +
                                             r32 + "0220" + s32),  // wrong outer length
                                 std::string("308144"
                                             "0220" +
                                             r32 + "0220" + s32),  // long form not needed
                                 std::string("3080"
                                             "0220" +
                                             r32 + "0220" + s32 + "0000"),  // indefinite
                                 std::string("3145"
                                             "0220" +
                                             r32 + "0220" + s32),  // SET, not SEQUENCE
                                 std::string("3045"
                                             "022100" +
                                             r32 + "0220" + s32),  // non-minimal (00 7f..)
                                 std::string("3044"
                                             "0220"
                                             "8" +
                                             r32.substr(1) + "0220" + s32),  // negative r
                                 std::string("3026"
                                             "0200"
                                             "0220" +
                                             s32),  // empty INTEGER
                                 std::string("3044"
                                             "0320" +
                                             r32 + "0220" + s32),  // BIT STRING
                                 std::string("3025"
                                             "0201"
                                             "01"
                                             "0220" +
                                             s32 + "00"),  // inner length mismatch
                                 std::string("30"), std::string("")}) {
    EXPECT_FALSE(ecdsa_der_to_raw(der(bad), 32, out)) << bad;
    uint8_t p[64];
    EXPECT_FALSE(crypto::ecdsa_der_to_p1363(der(bad), p)) << bad;
  }
  // 33-byte integer (after the sign pad) does not fit 32; fits 48.
  const std::string big =
      "3046"
      "022100"
      "FF" +
      r32 + "0220" + s32;
  EXPECT_FALSE(ecdsa_der_to_raw(der("3045"
                                    "0221"
                                    "7F" +
                                    r32 + "0220" + s32),
                                32, out));
  EXPECT_TRUE(ecdsa_der_to_raw(der("3045"
                                   "0221"
                                   "7F" +
                                   r32 + "0220" + s32),
                               48, out));
  EXPECT_FALSE(ecdsa_der_to_raw(der(big), 32, out));
  EXPECT_FALSE(ecdsa_der_to_raw(der("3044"
                                    "0220" +
                                    r32 + "0220" + s32),
                                48, std::span(out, 64)));
  EXPECT_FALSE(ecdsa_der_to_raw(der("3044"
                                    "0220" +
                                    r32 + "0220" + s32),
                                0, out));
}

}  // namespace
}  // namespace assay::formats
