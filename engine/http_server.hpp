#pragma once
/// \file HTTP endpoint serving /metrics (Prometheus text format), /healthz and /readyz.
///
/// One thread waits on every connection at once (poll) with non-blocking sockets, so no client
/// — idle, sending its request a byte at a time, or never reading its answer — holds up any
/// other: each request is answered as soon as its head has arrived. Limits (HttpLimits) bound
/// what one connection may hold: its request head must arrive within request_timeout_ms of
/// connecting, its answer must be taken within write_timeout_ms, and when max_connections are
/// open a new connection closes the oldest. Only GET and HEAD are served (other methods: 405
/// with `Allow: GET, HEAD`); one request per connection (`Connection: close`). Components add
/// read-only JSON endpoints with set_routes() (engine/http_route.hpp). See
/// docs/operations.md, "Health and metrics".

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/http_route.hpp"
#include "engine/snapshot_cell.hpp"

namespace assay::engine {

class Metrics;

/// What a request head asks for, as the server reads it (RFC 9112 request line; the header
/// fields are not interpreted). Pure parsing, no sockets: the server's loop and the fuzz
/// target (fuzz/fuzz_http.cpp) use the same functions.
struct HttpRequestHead {
  /// 200: a request to serve; otherwise the error status to answer (400, 404, 405, 505).
  int status = 400;
  /// The endpoint (kNone unless status is 200); kRoute: a path the server does not own, for
  /// the routes of set_routes() (which may still answer 404).
  enum class Target { kNone, kMetrics, kHealth, kReady, kRoute } target = Target::kNone;
  /// HEAD: answer with the headers only.
  bool head_only = false;
  /// The request-target as received (path, query, fragment; a view into the head).
  std::string_view request_target;
};

/// Index just past the blank line ("\r\n\r\n" or "\n\n") that ends a request head in the
/// bytes received so far; npos while it has not arrived.
size_t http_head_end(std::string_view received);

/// Reads a complete request head (the bytes up to http_head_end()).
HttpRequestHead parse_http_request(std::string_view head);

/// Bounds on what clients may hold (the defaults suit probes and scrapers).
struct HttpLimits {
  /// A connection whose whole request head has not arrived this long after connecting is
  /// closed (idle and slow-loris clients).
  int request_timeout_ms = 5000;
  /// A connection that has not taken its whole answer this long after the request is closed.
  int write_timeout_ms = 10000;
  /// Connections open at once; a new one beyond this closes the oldest.
  size_t max_connections = 256;
  /// Largest request head (request line and headers); a longer one is answered 431.
  size_t max_request_bytes = 8192;
};

/// A small HTTP server on a configured address.
class HttpServer {
 public:
  /// `listen` is "host:port", "[ipv6]:port" or "port" (all IPv4 interfaces); port 0 = any
  /// free port. `ready` decides /readyz (200 or 503); /healthz answers 200 while the process
  /// is alive and its loop makes progress (`healthy`). Either may be empty (= always 200). Both
  /// are called on the server thread and must not block.
  HttpServer(std::string listen, Metrics& metrics, std::function<bool()> ready,
             std::function<bool()> healthy, HttpLimits limits = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  /// Binds and starts serving; false and `error` ("cannot listen on ADDR: OS reason") if the
  /// address is malformed, cannot be resolved or cannot be bound.
  bool start(std::string* error);
  /// Stops serving and closes every connection (idempotent).
  void stop();
  /// The bound port (after start()).
  int port() const { return port_; }
  /// Replaces the extra endpoints (path prefix -> handler; /metrics, /healthz and /readyz stay
  /// the server's own). Thread-safe: a request being answered keeps the table it started with.
  void set_routes(std::vector<HttpRoute> routes);

 private:
  struct Response;
  void loop();
  Response answer(std::string_view head) const;
  Response answer_route(const HttpRequestHead& head) const;

  const std::string listen_;
  Metrics& metrics_;
  const std::function<bool()> ready_, healthy_;
  const HttpLimits limits_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  ///< eventfd: stop() wakes the loop
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  SnapshotCell<std::vector<HttpRoute>> routes_;
  std::thread thread_;
};

}  // namespace assay::engine
