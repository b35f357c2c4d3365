#pragma once
/// \file Read-only JSON endpoints that components add to Assay's HTTP server (engine/http_server):
/// a path prefix and a handler that gets the decoded path and query parameters. Handlers run on
/// the server's one thread: they must answer from memory, quickly, and never block (no I/O, no
/// waiting on locks that are held for long). See docs/operations.md, "Health and metrics".

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assay::engine {

/// A GET (or HEAD) request as a handler sees it.
struct HttpRequest {
  /// The path, percent-decoded ("/register/instruments").
  std::string path;
  /// The query parameters in order, names and values percent-decoded ('+' = space).
  std::vector<std::pair<std::string, std::string>> query;
  /// The value of query parameter `name` (the first one), or null.
  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : query)
      if (k == name) return &v;
    return nullptr;
  }
};

/// A handler's answer.
struct HttpReply {
  int status = 200;  ///< 200, 400, 404 or 503
  std::string content_type = "application/json";
  std::string body;
};

/// Answers the requests whose path starts with `prefix` (the longest matching prefix wins).
struct HttpRoute {
  std::string prefix;  ///< e.g. "/register/"
  std::function<HttpReply(const HttpRequest&)> handler;
};

}  // namespace assay::engine
