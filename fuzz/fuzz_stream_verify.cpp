// Fuzz target: the stream verifier (connectors/stream_verify.*) as `assay verify-stream` and
// `assay prove` run it. The first byte is the policy, then a 4-byte little-endian length N:
// the next N bytes are the attestations file, the rest the trusted file (framed records, both
// read from memfds with for_each_stored_frame / read_stored_file). The pinned engine key is the
// examples' TEST key (examples/testdata/engine.pub; the seeds are streams sealed with it).
//   bit 0: allow an open tail     bit 1: require one witness (a pinned TEST witness key)
//   bit 2: the input after the policy byte is instead an inclusion proof (JSON) to parse and
//          check (`assay verify-proof`)
// Properties: the streaming verifier and the in-memory one agree on the findings; a proof made
// for a record of a clean stream verifies.
#include <cstring>
#include <string>

#include "connectors/stream_verify.hpp"
#include "engine/signed_note.hpp"
#include "engine/signing_key.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay;

namespace {

std::array<uint8_t, 32> g_key{};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  std::string error;
  if (!engine::parse_engine_public_key(
          std::string(ASSAY_SOURCE_DIR) + "/examples/testdata/engine.pub", &g_key, &error))
    std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  if (policy & 4) {
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    connectors::InclusionProof proof;
    std::string error;
    if (connectors::InclusionProof::parse(text, &proof, &error)) {
      (void)connectors::verify_inclusion_proof(proof, g_key);
      connectors::InclusionProof again;
      fuzz::check(connectors::InclusionProof::parse(proof.json(), &again, &error),
                  "a parsed proof's JSON does not parse");
      fuzz::check(again.json() == proof.json(), "a proof changes through its JSON");
    }
    return 0;
  }
  if (size < 5) return 0;
  uint32_t n = 0;
  std::memcpy(&n, data + 1, 4);
  const size_t rest = size - 5;
  const size_t att_len = std::min<size_t>(n, rest);
  static fuzz::MemFile att_file("fuzz_attestations"), trusted_file("fuzz_trusted");
  att_file.set(std::span<const uint8_t>(data + 5, att_len));
  trusted_file.set(std::span<const uint8_t>(data + 5 + att_len, rest - att_len));

  connectors::VerifyOptions opt;
  opt.public_key = g_key;
  opt.allow_open_tail = (policy & 1) != 0;
  if (policy & 2) {
    engine::NoteKey w;
    std::string why;
    // A made-up witness key (its holder signs nothing): every record is then unwitnessed.
    if (!engine::parse_vkey("witness.example+9f3b8ddd+BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
                            &w, &why))
      std::abort();
    opt.witnesses.push_back(w);
    opt.min_witnesses = 1;
  }
  std::string error;
  connectors::StreamVerifier streaming(opt);
  const bool read_ok =
      connectors::for_each_stored_frame(
          att_file.path(),
          [&](int32_t p, int64_t o, std::span<const uint8_t> b) { streaming.add_attestation(p, o, b); },
          &error) &&
      connectors::for_each_stored_frame(
          trusted_file.path(),
          [&](int32_t p, int64_t o, std::span<const uint8_t> b) { streaming.add_trusted(p, o, b); },
          &error);
  const connectors::VerifyReport rep = streaming.finish();
  std::vector<connectors::StoredRecord> trusted, atts;
  const bool loaded = connectors::read_stored_file(trusted_file.path(), &trusted, &error) &&
                      connectors::read_stored_file(att_file.path(), &atts, &error);
  fuzz::check(read_ok == loaded, "the two file readers disagree");
  if (!loaded) return 0;
  const connectors::VerifyReport mem = connectors::verify_stream(trusted, atts, opt);
  fuzz::check(mem.records == rep.records && mem.checkpoints == rep.checkpoints,
              "streaming and in-memory verification count differently");
  fuzz::check(mem.ok() == rep.ok(), "streaming and in-memory verification disagree");
  for (const auto& f : rep.findings) (void)f.json();
  if (rep.ok() && !trusted.empty()) {
    connectors::InclusionProof proof;
    if (connectors::make_inclusion_proof(trusted, atts, 0, 0, &proof, &error)) {
      const auto why = connectors::verify_inclusion_proof(proof, g_key);
      fuzz::check(why.empty(), "a proof made from a clean stream does not verify");
    }
  }
  return 0;
}
