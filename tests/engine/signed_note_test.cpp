// C2SP signed notes, checkpoints and cosignatures (engine/signed_note.hpp), against the
// example of c2sp.org/signed-note and by construction from the specifications' text.
#include "engine/signed_note.hpp"

#include <gtest/gtest.h>

#include "engine/bytes.hpp"
#include "engine/signing_key.hpp"

namespace assay::engine {
namespace {

// The example of c2sp.org/signed-note ("Verifier keys", example; CC BY 4.0, C2SP authors).
constexpr char kExampleVkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
constexpr char kExampleNote[] =
    "This is an example message.\n"
    "\n"
    "\xE2\x80\x94 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
    "\n";

TEST(SignedNote, TheSpecificationsExampleVerifies) {
  NoteKey k;
  std::string err;
  ASSERT_TRUE(parse_vkey(kExampleVkey, &k, &err)) << err;
  EXPECT_EQ(k.name, "example.com/foo");
  EXPECT_EQ(k.id, 0x530d903au);
  EXPECT_EQ(k.type, kNoteEd25519);
  EXPECT_EQ(format_vkey(k), kExampleVkey);
  std::string text;
  std::vector<NoteSignature> sigs;
  ASSERT_TRUE(split_note(kExampleNote, &text, &sigs, &err)) << err;
  EXPECT_EQ(text, "This is an example message.\n");
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_TRUE(verify_note_signature(k, text, sigs[0]));
  EXPECT_FALSE(verify_note_signature(k, "This is an example message!\n", sigs[0]));
  NoteKey other = k;
  other.name = "example.com/bar";
  EXPECT_FALSE(verify_note_signature(other, text, sigs[0]));  // name must match
}

TEST(SignedNote, VkeysAreCheckedStrictly) {
  NoteKey k;
  std::string err;
  std::string v = kExampleVkey;
  v[17] = v[17] == '0' ? '1' : '0';  // another key ID
  EXPECT_FALSE(parse_vkey(v, &k, &err));
  EXPECT_FALSE(parse_vkey("example.com/foo+530d903a", &k, &err));
  EXPECT_FALSE(
      parse_vkey("exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &k, &err));
  EXPECT_FALSE(parse_vkey("example.com/foo+530d903a+Aeky", &k, &err));
  // A key whose base64 holds '+' parses (only the name and ID are split on '+').
  for (int i = 0; i < 64; ++i) {
    std::array<uint8_t, 32> s{};
    s[0] = static_cast<uint8_t>(i);
    const auto key = EngineKey::from_seed(s);
    NoteKey nk{"w.example/" + std::to_string(i), 0, kNoteCosignature, key->public_key()};
    nk.id = note_key_id(nk.name, nk.type, nk.public_key);
    NoteKey back;
    ASSERT_TRUE(parse_vkey(format_vkey(nk), &back, &err)) << format_vkey(nk) << ": " << err;
    EXPECT_EQ(back.public_key, nk.public_key);
  }
}

TEST(SignedNote, NotesAreSplitStrictly) {
  std::string text, err;
  std::vector<NoteSignature> sigs;
  const std::string good = kExampleNote;
  EXPECT_TRUE(split_note(good, &text, &sigs, &err)) << err;
  for (const std::string& bad :
       {good.substr(0, good.size() - 1),                                       // no final newline
        std::string("text\n\xE2\x80\x94 a AAAAAAA=\n"),                        // no blank line
        std::string("text\n\n"),                                               // no signature
        std::string("te\x01xt\n\n") + good.substr(good.find("\xE2\x80\x94")),  // control char
        std::string("te\xFFxt\n\n") + good.substr(good.find("\xE2\x80\x94")),  // not UTF-8
        std::string("text\n\n- example.com/foo AAAAAAA=\n"),                   // not an em dash
        std::string("text\n\n\xE2\x80\x94 exa+mple AAAAAAA=\n"),               // '+' in a name
        std::string("text\n\n\xE2\x80\x94 example AAA\n")}) {                  // bad base64
    EXPECT_FALSE(split_note(bad, &text, &sigs, &err)) << bad;
  }
  std::string many = "text\n\n";
  for (int i = 0; i < 65; ++i) many += "\xE2\x80\x94 k AAAAAAA=\n";
  EXPECT_FALSE(split_note(many, &text, &sigs, &err));
}

TEST(SignedNote, CheckpointBodies) {
  CheckpointBody c;
  std::string err;
  // c2sp.org/tlog-checkpoint's example body.
  ASSERT_TRUE(parse_checkpoint_body(
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", &c,
      &err))
      << err;
  EXPECT_EQ(c.origin, "example.com/behind-the-sofa");
  EXPECT_EQ(c.size, 20852163u);
  EXPECT_EQ(
      format_checkpoint_body(c),
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  EXPECT_TRUE(
      parse_checkpoint_body("o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next\n", &c, &err));
  EXPECT_EQ(c.extensions.size(), 1u);
  for (const char* bad :
       {"o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  // leading 0
        "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  // 31 bytes
        "o\n1\n\n", "o\n1\n", "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"})
    EXPECT_FALSE(parse_checkpoint_body(bad, &c, &err)) << bad;
}

TEST(SignedNote, EngineSignatureLinesAndCosignatures) {
  const uint8_t s1[32] = {7}, s2[32] = {8};
  const auto engine = EngineKey::from_seed(s1);
  const auto witness = EngineKey::from_seed(s2);
  const std::string body = format_checkpoint_body({"log.example/x/0", 5, {}, {}});
  const std::string line = note_signature_line(
      "log.example/x/0", engine->public_key(),
      [&](std::span<const uint8_t> m) { return engine->sign(m); }, body);
  // A cosignature v1 made from the text of c2sp.org/tlog-cosignature: key ID with type 0x04,
  // 8-byte big-endian timestamp, Ed25519 over "cosignature/v1\ntime T\n" || body.
  const uint64_t t = 1700000000;
  const std::string msg = "cosignature/v1\ntime " + std::to_string(t) + "\n" + body;
  const auto sig = witness->sign({reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
  NoteKey wk{"witness.example/w1", 0, kNoteCosignature, witness->public_key()};
  wk.id = note_key_id(wk.name, wk.type, wk.public_key);
  std::vector<uint8_t> raw = {static_cast<uint8_t>(wk.id >> 24), static_cast<uint8_t>(wk.id >> 16),
                              static_cast<uint8_t>(wk.id >> 8), static_cast<uint8_t>(wk.id)};
  for (int i = 7; i >= 0; --i) raw.push_back(static_cast<uint8_t>(t >> (8 * i)));
  raw.insert(raw.end(), sig.begin(), sig.end());
  const std::string cosig = "\xE2\x80\x94 witness.example/w1 " + to_base64(raw) + "\n";
  std::string text, err;
  std::vector<NoteSignature> sigs;
  ASSERT_TRUE(split_note(body + "\n" + line + cosig, &text, &sigs, &err)) << err;
  ASSERT_EQ(sigs.size(), 2u);
  NoteKey ek{"log.example/x/0", 0, kNoteEd25519, engine->public_key()};
  ek.id = note_key_id(ek.name, ek.type, ek.public_key);
  EXPECT_TRUE(verify_note_signature(ek, text, sigs[0]));
  EXPECT_FALSE(verify_note_signature(ek, text, sigs[1]));
  uint64_t when = 0;
  EXPECT_TRUE(verify_note_signature(wk, text, sigs[1], &when));
  EXPECT_EQ(when, t);
  EXPECT_FALSE(verify_note_signature(wk, text + "x\n", sigs[1]));
  // The same key as an engine (type 0x01) key has another ID: not accepted as a cosigner.
  NoteKey as01 = wk;
  as01.type = kNoteEd25519;
  as01.id = note_key_id(as01.name, as01.type, as01.public_key);
  EXPECT_FALSE(verify_note_signature(as01, text, sigs[1]));
}

TEST(Bytes, Base64IsStrict) {
  const std::vector<uint8_t> b = {0xde, 0xad, 0xbe, 0xef, 0x01};
  EXPECT_EQ(to_base64(b), "3q2+7wE=");
  EXPECT_EQ(from_base64("3q2+7wE="), b);
  EXPECT_EQ(from_base64(""), std::vector<uint8_t>{});
  for (const char* bad : {"3q2+7wE", "3q2+7wF=", "3q2 7wE=", "3q=+7wE=", "====", "3q2+7x=="})
    EXPECT_FALSE(from_base64(bad).has_value()) << bad;
}

}  // namespace
}  // namespace assay::engine
