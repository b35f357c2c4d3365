#pragma once
/// \file HTTP endpoint serving /metrics (Prometheus text format), /healthz and /readyz.

#include <functional>
#include <string>

struct mg_context;
struct mg_connection;

namespace assay::engine {

class Metrics;

/// A small HTTP server (civetweb) on a configured address.
class HttpServer {
 public:
  /// `listen` is "host:port" (port 0 = any free port). `ready` decides /readyz (200 or 503);
  /// /healthz answers 200 while the process is alive and its loop makes progress (`healthy`).
  HttpServer(std::string listen, Metrics& metrics, std::function<bool()> ready,
             std::function<bool()> healthy);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  /// Starts serving; false (and `error`) if the address cannot be bound.
  bool start(std::string* error);
  /// Stops serving (idempotent).
  void stop();
  /// The bound port (after start()).
  int port() const { return port_; }

 private:
  static int handle(::mg_connection* conn, void* self);
  std::string listen_;
  Metrics& metrics_;
  std::function<bool()> ready_, healthy_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace assay::engine
