// `assay inspect FILE`: decodes a framed record file to JSON lines (connectors/record_json.hpp).
#include <cstdio>
#include <string>
#include <vector>

#include "engine/framing.hpp"
#include "connectors/record_json.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"

namespace assay::cli {

namespace {

constexpr uint32_t kMaxFrameBytes = 16u << 20;
constexpr size_t kFlushBytes = 1 << 20;
constexpr size_t kHexPrefixBytes = 32;

void invalid_frame(std::string& out, const char* reason, const std::vector<uint8_t>& bytes, uint64_t declared) {
  out += "{\"type\":\"invalid\",\"reason\":\"";
  out += reason;
  out += "\",\"size\":";
  out += std::to_string(bytes.size());
  out += ",\"declared_size\":";
  out += std::to_string(declared);
  out += ",\"hex_prefix\":\"";
  connectors::append_hex(out, {bytes.data(), std::min(bytes.size(), kHexPrefixBytes)});
  out += "\"}";
}

bool flush_out(std::string& out) {
  if (out.empty()) return true;
  const bool ok = std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
  out.clear();
  return ok;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  Args args("assay inspect FILE [--limit N] [--skip N]",
            "Decodes an Assay record file (frames of a 4-byte little-endian length and one FlatBuffers\n"
            "buffer) and prints one JSON object per frame. Every buffer is checked by the FlatBuffers\n"
            "Verifier before it is read; records that fail print {\"type\":\"invalid\",\"reason\":...}.\n"
            "Exit status: 0 when the file was read to the end (even with invalid records), 1 on an\n"
            "I/O error, 2 on a usage error.");
  args.positional("FILE", "framed record file ('-' = stdin)")
      .option("limit", "print at most N frames (0 = all)", "0")
      .option("skip", "skip the first N frames", "0");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  long long limit = 0, skip = 0;
  if (!args.get_int("limit", limit) || !args.get_int("skip", skip) || limit < 0 || skip < 0) {
    std::fprintf(stderr, "error: %s\n", args.error().empty() ? "--limit/--skip must be >= 0" : args.error().c_str());
    return kExitUsage;
  }
  engine::FrameReader reader(kMaxFrameBytes);
  if (!reader.open(args.get("FILE"))) {
    std::fprintf(stderr, "assay inspect: %s\n", reader.error().c_str());
    return kExitFailure;
  }
  std::vector<uint8_t> frame;
  std::string line, out;
  long long index = 0, printed = 0;
  while (limit == 0 || printed < limit) {
    frame.clear();
    uint32_t length = 0;
    uint64_t declared = 0;
    const auto st = reader.next(frame, length, declared);
    if (st == engine::FrameStatus::kEnd) break;
    if (st == engine::FrameStatus::kIoError) {
      flush_out(out);
      std::fprintf(stderr, "assay inspect: read error: %s\n", reader.error().c_str());
      return kExitFailure;
    }
    if (index++ < skip) {
      if (st == engine::FrameStatus::kTruncated) break;
      continue;
    }
    if (st == engine::FrameStatus::kOk) {
      connectors::record_to_json(frame, line);
      out += line;
    } else {
      invalid_frame(out, st == engine::FrameStatus::kTooLarge ? "frame.too_large" : "frame.truncated", frame,
                    declared);
    }
    out.push_back('\n');
    ++printed;
    if (out.size() >= kFlushBytes && !flush_out(out)) {
      std::fprintf(stderr, "assay inspect: cannot write to stdout\n");
      return kExitFailure;
    }
    if (st == engine::FrameStatus::kTruncated) break;
  }
  if (!flush_out(out) || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "assay inspect: cannot write to stdout\n");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace assay::cli
