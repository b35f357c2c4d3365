#include "engine/http_server.hpp"

#include <civetweb.h>

#include <cstring>

#include "engine/metrics.hpp"

namespace assay::engine {

HttpServer::HttpServer(std::string listen, Metrics& metrics, std::function<bool()> ready,
                       std::function<bool()> healthy)
    : listen_(std::move(listen)),
      metrics_(metrics),
      ready_(std::move(ready)),
      healthy_(std::move(healthy)) {}

HttpServer::~HttpServer() { stop(); }

namespace {

void reply(mg_connection* conn, int status, const char* ctype, const std::string& body) {
  const char* text = status == 200 ? "OK" : status == 404 ? "Not Found" : "Service Unavailable";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            status, text, ctype, body.size());
  mg_write(conn, body.data(), body.size());
}

}  // namespace

int HttpServer::handle(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  const mg_request_info* ri = mg_get_request_info(conn);
  const char* uri = ri->local_uri != nullptr ? ri->local_uri : "/";
  if (std::strcmp(uri, "/metrics") == 0) {
    reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", self->metrics_.serialize());
  } else if (std::strcmp(uri, "/healthz") == 0) {
    const bool ok = !self->healthy_ || self->healthy_();
    reply(conn, ok ? 200 : 503, "text/plain", ok ? "ok\n" : "unhealthy\n");
  } else if (std::strcmp(uri, "/readyz") == 0) {
    const bool ok = !self->ready_ || self->ready_();
    reply(conn, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n");
  } else {
    reply(conn, 404, "text/plain", "not found\n");
  }
  return 1;
}

bool HttpServer::start(std::string* error) {
  if (ctx_ != nullptr) return true;
  static const bool initialised = [] {
    mg_init_library(0);
    return true;
  }();
  (void)initialised;
  const char* options[] = {"listening_ports", listen_.c_str(), "num_threads", "2", nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  ctx_ = mg_start(&callbacks, this, options);
  if (ctx_ == nullptr) {
    if (error != nullptr) *error = "cannot listen on " + listen_;
    return false;
  }
  mg_set_request_handler(ctx_, "/", &HttpServer::handle, this);
  mg_server_port ports[4];
  const int n = mg_get_server_ports(ctx_, 4, ports);
  port_ = n > 0 ? ports[0].port : 0;
  return true;
}

void HttpServer::stop() {
  if (ctx_ != nullptr) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

}  // namespace assay::engine
