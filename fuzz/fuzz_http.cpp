// Fuzz target: the request-head parsing of the HTTP endpoint (engine/http_server.*:
// http_head_end, parse_http_request), the code the server's loop runs on the bytes a client
// sent, without sockets. Properties: a served request names an endpoint and an error names
// none; the status is one the server can answer; the head end is found the same way whether
// the bytes arrive at once or one by one.
#include <string_view>

#include "engine/http_server.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t end = engine::http_head_end(in);
  if (end != std::string_view::npos) {
    fuzz::check(end <= in.size(), "head end past the input");
    fuzz::check(engine::http_head_end(in.substr(0, end)) == end, "head end moves with a prefix");
    fuzz::check(
        end == in.size() || engine::http_head_end(in.substr(0, end - 1)) == std::string_view::npos,
        "head end found before its last byte");
  }
  // The server parses the head once it is complete and within max_request_bytes (8192).
  if (end != std::string_view::npos && end <= 8192) {
    const engine::HttpRequestHead req = engine::parse_http_request(in.substr(0, end));
    const bool served = req.status == 200;
    fuzz::check(served == (req.target != engine::HttpRequestHead::Target::kNone),
                "endpoint and status disagree");
    fuzz::check(
        served || req.status == 400 || req.status == 404 || req.status == 405 || req.status == 505,
        "an unexpected status");
  }
  return 0;
}
