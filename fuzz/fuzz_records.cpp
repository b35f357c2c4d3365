// Fuzz target: framed record files (engine/framing.*, read through the file source of
// connectors/file_source.*), the decode stage (engine/decode.*) and the operator-free output
// path (engine/encode.*). The first input byte picks the record size limit, the batch size and
// whether the provenance chain fields are reserved; the rest is the file's content, held in a
// memfd (no file on disk). Properties checked: every frame yields at least one row and every
// row exactly one output (nothing is lost), every output passes the FlatBuffers Verifier as
// the record of its route, and the file's shape from scan_frame_file() agrees with the source.
#include <string>

#include "connectors/file_source.hpp"
#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/framing.hpp"
#include "fuzz/fuzz_util.hpp"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"

using namespace assay;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  const uint32_t max_record = (policy & 1) ? 96 : 1u << 20;
  const size_t batch_frames = (policy & 2) ? 3 : 1024;
  const bool chain = (policy & 4) != 0;
  static fuzz::MemFile file("fuzz_records");
  file.set(std::span<const uint8_t>(data + 1, size - 1));
  const std::string& memfd_path = file.path();

  const engine::FrameScan scan = engine::scan_frame_file(memfd_path);
  fuzz::check(scan.ok, "scan_frame_file failed on a memfd");
  connectors::FileSource source(memfd_path, max_record);
  std::string error;
  fuzz::check(source.start(&error), "file source does not start on a memfd");
  engine::PipelineInfo info;
  info.name = "fuzz";
  info.config_sha256.assign(32, 0);
  info.instance_id = "fuzz-1";
  const std::vector<std::string> stages{"decode"};
  const engine::EncodeContext ctx{info, stages, 1'700'000'000'000'000'000, chain};
  uint64_t frames = 0, truncated = 0;
  for (int round = 0; round < 1 << 16; ++round) {
    engine::Batch b;
    const engine::SourceStatus st = source.next(b, batch_frames);
    if (st != engine::SourceStatus::kBatch) {
      fuzz::check(st == engine::SourceStatus::kEnd, "file source neither ends nor delivers");
      break;
    }
    engine::decode_batch(b);
    engine::encode_batch(b, ctx);
    // Every frame has rows, every row one output; outputs verify as their route's record.
    std::vector<uint32_t> rows_of(b.frames.size(), 0);
    for (size_t r = 0; r < b.row_count(); ++r) ++rows_of[b.row_frame[r]];
    for (const uint32_t n : rows_of) fuzz::check(n > 0, "a frame without a row");
    fuzz::check(b.outputs.size() == b.row_count(), "rows and outputs differ");
    for (const engine::OutputRecord& o : b.outputs) {
      flatbuffers::Verifier v(b.out_arena.data() + o.offset, o.size);
      if (o.route == engine::Route::kTrusted)
        fuzz::check(wire::VerifyTrustedReadingBuffer(v), "a trusted output does not verify");
      else
        fuzz::check(o.route == engine::Route::kRejected && wire::VerifyRejectedRecordBuffer(v),
                    "a rejected output does not verify");
    }
    for (const engine::Frame& f : b.frames)
      if (f.pre_reject == engine::RejectCode::kFrameTruncated) ++truncated;
    frames += b.frames.size();
  }
  fuzz::check(frames - truncated == scan.frames, "the source and scan_frame_file disagree");
  fuzz::check((truncated > 0) == scan.torn(), "torn tail seen by one reader only");
  return 0;
}
