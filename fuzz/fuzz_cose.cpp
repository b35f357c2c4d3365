// Fuzz target: COSE_Sign1 / COSE_Mac0 messages (formats/cose.*) and the SenML CBOR pack they
// carry (formats/senml.*). The first byte picks the parser policy, the rest is the message.
// A parsed message's Sig_structure / MAC_structure is built and must have the announced size;
// its payload goes through the SenML CBOR parser and the replay checker.
#include <vector>

#include "formats/cose.hpp"
#include "formats/senml.hpp"
#include "formats/senml_check.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  const std::span<const uint8_t> input(data + 1, size - 1);
  CoseParseOptions opts;
  opts.require_kid = (policy & 1) == 0;
  opts.require_tag = (policy & 2) == 0;
  opts.untagged_kind = (policy & 4) ? CoseKind::kMac0 : CoseKind::kSign1;
  opts.accept_sign1 = (policy & 8) == 0;
  opts.accept_mac0 = (policy & 16) == 0;
  if (policy & 32) {
    opts.max_header_entries = 2;
    opts.max_header_depth = 1;
    opts.max_kid_bytes = 4;
  }
  CoseMessage m;
  const CoseError e = parse_cose(input, opts, m);
  (void)cose_error_name(e);
  if (e != CoseError::kNone) return 0;
  (void)cose_algorithm_name(m.algorithm);
  const size_t n = cose_to_be_signed_size(m);
  std::vector<uint8_t> tbs(n);
  assay::fuzz::check(cose_build_to_be_signed(m, tbs) == n, "to-be-signed size mismatch");
  if (n > 0) {
    assay::fuzz::check(cose_build_to_be_signed(m, std::span<uint8_t>(tbs).first(n - 1)) == 0,
                       "to-be-signed written into a short buffer");
  }
  SenmlParseOptions sopts;
  sopts.accept_non_numeric = (policy & 64) != 0;
  SenmlPack pack;
  if (parse_senml_cbor(m.payload, sopts, pack) == SenmlError::kNone) {
    SenmlReplayState state;
    (void)SenmlReplayChecker().check(state, pack);
  }
  return 0;
}
