// COSE_Sign1 / COSE_Mac0: the COSE working group's published examples (To-Be-Signed bytes and
// signatures checked with OpenSSL), and one test per error path.
#include "formats/cose.hpp"

#include <gtest/gtest.h>

#include <set>

#include "cbor_builder.hpp"
#include "formats/encoding.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::Cbor;
using test::unhex;

// Examples from https://github.com/cose-wg/Examples at commit
// 53c9d634333bb4f529d78f5980fffa2667ee2c12 (public domain, The Unlicense):
// sign1-tests/sign-pass-03.json (ES256, untagged), eddsa-examples/eddsa-sig-01.json (EdDSA,
// content type 0), mac0-tests/HMac-01.json (HMAC 256/256, no kid),
// sign1-tests/sign-pass-01.json (alg in the unprotected bucket).
const char* kEs256Untagged =
    "8443A10126A10442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC5B"
    "A5B8DCA25DAB3C2E56A551CE5705B793914348E19F43D6C6BA654472DA301B645B293C9BA939295B97C4BDB8477"
    "82BFF384C5794";
const char* kEs256ToBeSigned =
    "846A5369676E61747572653143A101264054546869732069732074686520636F6E74656E742E";
const char* kEs256X = "usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8";
const char* kEs256Y = "IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4";
const char* kEdDsa =
    "D28445A201270300A10442313154546869732069732074686520636F6E74656E742E58407142FD2FF96D56DB85"
    "BEE905A76BA1D0B7321A95C8C4D3607C5781932B7AFB8711497DFA751BF40B58B3BCC32300B1487F3DB34085EE"
    "F013BF08F4A44D6FEF0D";
const char* kEdDsaToBeSigned =
    "846A5369676E61747572653145A2012703004054546869732069732074686520636F6E74656E742E";
const char* kEdDsaPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const char* kMac0 =
    "D18443A10105A054546869732069732074686520636F6E74656E742E5820A1A848D3471F9D61EE49018D244C82"
    "4772F223AD4F935293F1789FC3A08D8C58";
const char* kMac0ToMac = "84644D41433043A101054054546869732069732074686520636F6E74656E742E";
const char* kMac0Key = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg";
const char* kAlgUnprotected =
    "D28441A0A201260442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC"
    "5BA5B8DCA25DAB3C2E56A551CE5705B793914348E11A02E5F0344BF2D4EE5C7FD75A68A9F5E0B3CC1F1FC1409C"
    "189566586FF9D610";

std::vector<uint8_t> b64url(const char* s) {
  std::vector<uint8_t> out(64);
  const ptrdiff_t n = decode_base64url(s, out);
  EXPECT_GT(n, 0);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::vector<uint8_t> tbs(const CoseMessage& m) {
  std::vector<uint8_t> out(cose_to_be_signed_size(m));
  EXPECT_EQ(cose_build_to_be_signed(m, out), out.size());
  return out;
}

TEST(CoseExamples, Es256Untagged) {
  const auto in = unhex(kEs256Untagged);
  CoseMessage m;
  EXPECT_EQ(parse_cose(in, {}, m), CoseError::kUntagged);
  CoseParseOptions o;
  o.require_tag = false;
  ASSERT_EQ(parse_cose(in, o, m), CoseError::kNone);
  EXPECT_FALSE(m.tagged);
  EXPECT_EQ(m.kind, CoseKind::kSign1);
  EXPECT_EQ(m.algorithm, CoseAlgorithm::kES256);
  EXPECT_EQ(std::string(m.kid.begin(), m.kid.end()), "11");
  EXPECT_FALSE(m.kid_protected);
  EXPECT_EQ(std::string(m.payload.begin(), m.payload.end()), "This is the content.");
  const auto tb = tbs(m);
  EXPECT_EQ(tb, unhex(kEs256ToBeSigned));
  std::vector<uint8_t> point = {0x04};
  for (const auto& c : {b64url(kEs256X), b64url(kEs256Y)})
    point.insert(point.end(), c.begin(), c.end());
  EXPECT_TRUE(test::openssl_es256_verify(point, tb, m.signature));
  // The same message tagged gives the same bytes to sign.
  std::vector<uint8_t> tagged = {0xD2};
  tagged.insert(tagged.end(), in.begin(), in.end());
  ASSERT_EQ(parse_cose(tagged, {}, m), CoseError::kNone);
  EXPECT_TRUE(m.tagged);
  EXPECT_EQ(tbs(m), unhex(kEs256ToBeSigned));
}

TEST(CoseExamples, EdDsa) {
  const auto in = unhex(kEdDsa);
  CoseMessage m;
  ASSERT_EQ(parse_cose(in, {}, m), CoseError::kNone);
  EXPECT_EQ(m.algorithm, CoseAlgorithm::kEdDSA);
  EXPECT_TRUE(m.has_content_type);
  EXPECT_EQ(m.content_format, 0u);
  EXPECT_EQ(tbs(m), unhex(kEdDsaToBeSigned));
  EXPECT_TRUE(test::openssl_ed25519_verify(unhex(kEdDsaPublic), tbs(m), m.signature));
}

TEST(CoseExamples, Mac0) {
  const auto in = unhex(kMac0);
  CoseMessage m;
  EXPECT_EQ(parse_cose(in, {}, m), CoseError::kKidMissing);
  CoseParseOptions o;
  o.require_kid = false;
  ASSERT_EQ(parse_cose(in, o, m), CoseError::kNone);
  EXPECT_EQ(m.kind, CoseKind::kMac0);
  EXPECT_EQ(m.algorithm, CoseAlgorithm::kHmac256);
  EXPECT_TRUE(m.kid.empty());
  EXPECT_EQ(tbs(m), unhex(kMac0ToMac));
  EXPECT_TRUE(test::openssl_hmac_sha256_verify(b64url(kMac0Key), tbs(m), m.signature));
  o.accept_mac0 = false;
  EXPECT_EQ(parse_cose(in, o, m), CoseError::kWrongTag);
}

TEST(CoseExamples, AlgOnlyUnprotectedIsRefused) {
  CoseMessage m;
  EXPECT_EQ(parse_cose(unhex(kAlgUnprotected), {}, m), CoseError::kAlgNotProtected);
}

// ---- built messages ------------------------------------------------------------------------

const std::vector<uint8_t> kSig64(64, 0x5A);

Cbor prot_es256() {
  return Cbor().map(1).uint(1).neg(-7);
}
Cbor unprot_kid() {
  return Cbor().map(1).uint(4).bstr("kid-1");
}

// tag(18) [bstr(prot), unprot, payload, sig]
std::vector<uint8_t> sign1(const Cbor& prot, const Cbor& unprot, const Cbor& payload,
                           const Cbor& sig, int tag = 18) {
  Cbor c;
  if (tag >= 0) c.tag(static_cast<uint64_t>(tag));
  c.array(4).bstr(prot).append(unprot).append(payload).append(sig);
  return c.b;
}
std::vector<uint8_t> good(int tag = 18) {
  return sign1(prot_es256(), unprot_kid(), Cbor().bstr("payload"), Cbor().bstr(kSig64), tag);
}

CoseError parse(const std::vector<uint8_t>& in, const CoseParseOptions& o = {}) {
  CoseMessage m;
  return parse_cose(in, o, m);
}

#define EXPECT_COSE(in, code, ...) \
  EXPECT_EQ(cose_error_name(parse(in, ##__VA_ARGS__)), cose_error_name(code)) << test::hex(in)

TEST(Cose, BuiltMessageAndToBeSigned) {
  const auto in = good();
  CoseMessage m;
  ASSERT_EQ(parse_cose(in, {}, m), CoseError::kNone);
  EXPECT_EQ(test::hex(m.protected_header), "a10126");
  // Payloads whose length needs 1, 2 and 3 head bytes.
  for (size_t n : {0u, 23u, 24u, 255u, 256u, 70000u}) {
    const std::string payload(n, 'p');
    const auto msg = sign1(prot_es256(), unprot_kid(), Cbor().bstr(payload), Cbor().bstr(kSig64));
    CoseParseOptions o;
    o.max_message_bytes = 1 << 20;
    ASSERT_EQ(parse_cose(msg, o, m), CoseError::kNone);
    Cbor want;
    want.array(4).text("Signature1").bstr(prot_es256()).bstr("").bstr(payload);
    EXPECT_EQ(tbs(m), want.b) << n;
    std::vector<uint8_t> small(cose_to_be_signed_size(m) - 1);
    EXPECT_EQ(cose_build_to_be_signed(m, small), 0u);
  }
}

TEST(Cose, HeadersRecorded) {
  const auto in = sign1(Cbor().map(3).uint(1).neg(-8).uint(4).bstr("pk").uint(3).uint(112),
                        Cbor().map(2).uint(5).bstr("iv").text("x-note").array(2).uint(1).uint(2),
                        Cbor().bstr("p"), Cbor().bstr(kSig64));
  CoseMessage m;
  ASSERT_EQ(parse_cose(in, {}, m), CoseError::kNone);
  EXPECT_EQ(m.algorithm, CoseAlgorithm::kEdDSA);
  EXPECT_TRUE(m.kid_protected);
  EXPECT_EQ(m.content_format, 112u);
  const auto in2 = sign1(Cbor().map(2).uint(1).neg(-7).uint(3).text("application/senml+cbor"),
                         unprot_kid(), Cbor().bstr("p"), Cbor().bstr(kSig64));
  ASSERT_EQ(parse_cose(in2, {}, m), CoseError::kNone);
  EXPECT_EQ(m.content_type, "application/senml+cbor");
  EXPECT_EQ(cose_algorithm_name(CoseAlgorithm::kHmac256), "HMAC 256/256");
}

TEST(CoseErrors, FramingAndCbor) {
  CoseParseOptions small;
  small.max_message_bytes = 10;
  EXPECT_COSE(good(), CoseError::kTooLarge, small);
  auto cut = good();
  cut.pop_back();
  EXPECT_COSE(cut, CoseError::kTruncated);
  EXPECT_COSE(std::vector<uint8_t>{}, CoseError::kTruncated);
  EXPECT_COSE(
      (std::vector<uint8_t>{0xD2, 0x84, 0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
      CoseError::kTruncated);
  EXPECT_COSE((std::vector<uint8_t>{0xD2, 0x84, 0x1C}), CoseError::kMalformed);
  EXPECT_COSE((std::vector<uint8_t>{0xD2, 0x84, 0xFF}), CoseError::kMalformed);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), Cbor().bstr("p"), Cbor().raw({0xF8, 0x20})),
              CoseError::kMalformed);
  EXPECT_COSE((std::vector<uint8_t>{0xD2, 0x9F}), CoseError::kIndefiniteLength);
  EXPECT_COSE(
      sign1(prot_es256(), unprot_kid(), Cbor().raw({0x5F, 0x41, 0x61, 0xFF}), Cbor().bstr(kSig64)),
      CoseError::kIndefiniteLength);
  EXPECT_COSE(sign1(prot_es256(), Cbor().raw({0xBF, 0xFF}), Cbor().bstr("p"), Cbor().bstr(kSig64)),
              CoseError::kIndefiniteLength);
  EXPECT_COSE(sign1(Cbor().raw({0xBF, 0x01, 0x26, 0xFF}), unprot_kid(), Cbor().bstr("p"),
                    Cbor().bstr(kSig64)),
              CoseError::kIndefiniteLength);
  Cbor deep = Cbor().map(2).uint(4).bstr("k").uint(99);
  for (int i = 0; i < 12; ++i) deep.array(1);
  deep.uint(0);
  EXPECT_COSE(sign1(prot_es256(), deep, Cbor().bstr("p"), Cbor().bstr(kSig64)),
              CoseError::kTooDeep);
  auto trailing = good();
  trailing.push_back(0x00);
  EXPECT_COSE(trailing, CoseError::kTrailingBytes);
}

TEST(CoseErrors, StructureAndTags) {
  EXPECT_COSE(good(-1), CoseError::kUntagged);
  CoseParseOptions untagged;
  untagged.require_tag = false;
  EXPECT_COSE(good(-1), CoseError::kNone, untagged);
  untagged.untagged_kind = CoseKind::kMac0;
  EXPECT_COSE(good(-1), CoseError::kAlgKindMismatch, untagged);
  EXPECT_COSE(good(98), CoseError::kWrongTag);  // COSE_Sign (multi-signer)
  EXPECT_COSE(good(16), CoseError::kWrongTag);  // COSE_Encrypt0
  EXPECT_COSE(good(61), CoseError::kWrongTag);  // CWT wrapper
  CoseParseOptions no_sign1;
  no_sign1.accept_sign1 = false;
  EXPECT_COSE(good(), CoseError::kWrongTag, no_sign1);
  std::vector<uint8_t> two_tags = {0xD2};
  const auto g = good();
  two_tags.insert(two_tags.end(), g.begin(), g.end());
  EXPECT_COSE(two_tags, CoseError::kWrongTag);
  EXPECT_COSE(Cbor().tag(18).map(0).b, CoseError::kNotArray);
  EXPECT_COSE(Cbor().tag(18).bstr("x").b, CoseError::kNotArray);
  EXPECT_COSE(Cbor().tag(18).array(3).bstr(prot_es256()).append(unprot_kid()).bstr("p").b,
              CoseError::kWrongArrayLength);
  EXPECT_COSE(Cbor().tag(18).array(5).b, CoseError::kWrongArrayLength);
}

TEST(CoseErrors, Buckets) {
  const Cbor p = Cbor().bstr("p"), s = Cbor().bstr(kSig64);
  {  // protected not a bstr
    Cbor c;
    c.tag(18).array(4).append(prot_es256()).append(unprot_kid()).append(p).append(s);
    EXPECT_COSE(c.b, CoseError::kProtectedNotBstr);
  }
  EXPECT_COSE(sign1(Cbor().array(0), unprot_kid(), p, s), CoseError::kProtectedNotMap);
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).neg(-7).uint(0), unprot_kid(), p, s),
              CoseError::kProtectedNotMap);  // trailing bytes inside the bstr
  EXPECT_COSE(sign1(Cbor().map(2).uint(1).neg(-7), unprot_kid(), p, s),
              CoseError::kProtectedNotMap);  // truncated inside the bstr
  EXPECT_COSE(sign1(prot_es256(), Cbor().array(0), p, s), CoseError::kUnprotectedNotMap);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), Cbor().text("p"), s), CoseError::kPayloadNotBstr);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), Cbor().null(), s), CoseError::kDetachedPayload);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), p, Cbor().text("sig")),
              CoseError::kSignatureNotBstr);
}

TEST(CoseErrors, HeaderLabels) {
  const Cbor p = Cbor().bstr("p"), s = Cbor().bstr(kSig64);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(2).uint(4).bstr("k").bstr("lbl").uint(1), p, s),
              CoseError::kHeaderLabelInvalid);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(2).uint(4).bstr("k").f64(1.0).uint(1), p, s),
              CoseError::kHeaderLabelInvalid);
  EXPECT_COSE(sign1(prot_es256(),
                    Cbor()
                        .map(2)
                        .uint(4)
                        .bstr("k")
                        .raw({0x3B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
                        .uint(1),
                    p, s),
              CoseError::kHeaderLabelInvalid);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(2).uint(4).bstr("k").text("\xC3\x28").uint(1), p, s),
              CoseError::kHeaderLabelInvalid);
  EXPECT_COSE(sign1(Cbor().map(2).uint(1).neg(-7).uint(1).neg(-7), unprot_kid(), p, s),
              CoseError::kDuplicateHeader);
  EXPECT_COSE(sign1(Cbor().map(2).uint(1).neg(-7).uint(4).bstr("k"), unprot_kid(), p, s),
              CoseError::kDuplicateHeader);  // kid in both buckets
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(2).uint(4).bstr("k").uint(1).neg(-7), p, s),
              CoseError::kDuplicateHeader);  // alg in both buckets
  EXPECT_COSE(sign1(prot_es256(),
                    Cbor().map(3).uint(4).bstr("k").text("a").uint(1).text("a").uint(2), p, s),
              CoseError::kDuplicateHeader);
  CoseParseOptions few;
  few.max_header_entries = 2;
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(2).uint(4).bstr("k").uint(33).uint(1), p, s),
              CoseError::kTooManyHeaders, few);
  // A map claiming 2^32 entries ends at the limit, not after 2^32 iterations.
  Cbor huge = Cbor().map(0xFFFFFFFFu);
  for (int i = 0; i < 40; ++i) huge.uint(10 + i).uint(0);
  EXPECT_COSE(sign1(prot_es256(), huge, p, s), CoseError::kTooManyHeaders);
}

TEST(CoseErrors, HeaderValues) {
  const Cbor p = Cbor().bstr("p"), s = Cbor().bstr(kSig64);
  EXPECT_COSE(sign1(Cbor().map(0), unprot_kid(), p, s), CoseError::kAlgMissing);
  EXPECT_COSE(sign1(Cbor(), unprot_kid(), p, s), CoseError::kAlgMissing);  // h''
  EXPECT_COSE(sign1(Cbor(), Cbor().map(2).uint(1).neg(-7).uint(4).bstr("k"), p, s),
              CoseError::kAlgNotProtected);
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).bstr("x"), unprot_kid(), p, s), CoseError::kAlgInvalid);
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).f64(-7), unprot_kid(), p, s), CoseError::kAlgInvalid);
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).neg(-35), unprot_kid(), p, s),
              CoseError::kUnsupportedAlg);  // ES384
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).text("ES256"), unprot_kid(), p, s),
              CoseError::kUnsupportedAlg);
  EXPECT_COSE(sign1(Cbor().map(1).uint(1).uint(100000), unprot_kid(), p, s),
              CoseError::kUnsupportedAlg);
  EXPECT_COSE(
      sign1(Cbor().map(1).uint(1).uint(5), unprot_kid(), p, Cbor().bstr(std::string(32, 'x'))),
      CoseError::kAlgKindMismatch);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), p, s, 17), CoseError::kAlgKindMismatch);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(0), p, s), CoseError::kKidMissing);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(1).uint(4).text("kid"), p, s), CoseError::kKidInvalid);
  EXPECT_COSE(sign1(prot_es256(), Cbor().map(1).uint(4).bstr(""), p, s), CoseError::kKidInvalid);
  CoseParseOptions short_kid;
  short_kid.max_kid_bytes = 4;
  EXPECT_COSE(good(), CoseError::kKidInvalid, short_kid);
  EXPECT_COSE(sign1(Cbor().map(2).uint(1).neg(-7).uint(2).array(1).uint(99), unprot_kid(), p, s),
              CoseError::kCritUnsupported);
  EXPECT_COSE(sign1(Cbor().map(2).uint(1).neg(-7).uint(3).bstr("x"), unprot_kid(), p, s),
              CoseError::kContentTypeInvalid);
  EXPECT_COSE(sign1(prot_es256(), unprot_kid(), p, Cbor().bstr(std::string(63, 's'))),
              CoseError::kSignatureLength);
  EXPECT_COSE(
      sign1(Cbor().map(1).uint(1).uint(5), unprot_kid(), p, Cbor().bstr(std::string(16, 't')), 17),
      CoseError::kSignatureLength);
}

TEST(CoseErrors, NamesAreStableAndDistinct) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(CoseError::kSignatureLength); ++i)
    names.insert(cose_error_name(static_cast<CoseError>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(CoseError::kSignatureLength) + 1);
  EXPECT_EQ(cose_error_name(CoseError::kWrongTag), "cose.wrong_tag");
}

}  // namespace
}  // namespace assay::formats
