// Fuzz target: record_json (connectors/record_json.*), what `assay inspect` does with each
// frame of any file: arbitrary bytes to one line of JSON. Property: the line is always one
// strict JSON object (nlohmann-json parses it) with a "type" member, "invalid" exactly when
// record_to_json() says the bytes are not a verified record.
#include <nlohmann/json.hpp>
#include <vector>

#include "connectors/record_json.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);  // 8-byte aligned, as read from a file
  (void)connectors::root_type_name(bytes);
  std::string out;
  const bool ok = connectors::record_to_json(bytes, out);
  fuzz::check(out.find('\n') == std::string::npos, "a JSON line with a newline");
  const auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  fuzz::check(!j.is_discarded() && j.is_object(), "record_to_json wrote invalid JSON");
  fuzz::check(j.contains("type"), "record_to_json wrote no type");
  fuzz::check((j["type"] == "invalid") != ok, "type invalid disagrees with the result");
  std::string twice = out;
  fuzz::check(connectors::append_record_json(bytes, twice) == ok, "append disagrees");
  fuzz::check(twice == out + out, "append_record_json differs from record_to_json");
  return 0;
}
