#include "engine/http_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <string_view>
#include <vector>

#include "engine/metrics.hpp"
#include "engine/time.hpp"

namespace assay::engine {

struct HttpServer::Response {
  int status = 200;
  std::string text;  ///< the whole response: status line, headers, body
};

namespace {

constexpr int64_t kMs = 1'000'000;
/// After the answer is sent, how long the rest of a request (e.g. a body) is read and
/// discarded before closing, so that closing never resets the connection under the answer.
constexpr int64_t kLingerNs = 1000 * kMs;

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Error";
}

std::string http_date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// A response; `head_only` (HEAD) keeps the headers, Content-Length included, and drops the body.
std::string make_response(int status, std::string_view content_type, std::string_view body,
                          bool head_only, std::string_view extra_headers = {}) {
  std::string r;
  r.reserve(200 + (head_only ? 0 : body.size()));
  r += "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  r += "Date: " + http_date() + "\r\n";
  r += "Content-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += "Cache-Control: no-store\r\nConnection: close\r\n";
  r += extra_headers;
  r += "\r\n";
  if (!head_only) r += body;
  return r;
}

std::string error_response(int status, std::string_view extra_headers = {}) {
  return make_response(status, "text/plain; charset=utf-8",
                       std::string(reason_phrase(status)) + "\n", false, extra_headers);
}

// RFC 9110 token characters (a method).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Splits "host:port", "[v6]:port", ":port" or "port" (empty host = all IPv4 interfaces).
bool split_listen(const std::string& s, std::string& host, std::string& port, std::string* why) {
  std::string rest;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos) return *why = "unterminated '[' (expected [ipv6]:port)", false;
    host = s.substr(1, close - 1);
    rest = s.substr(close + 1);
    if (rest.empty() || rest[0] != ':') return *why = "expected [ipv6]:port", false;
    port = rest.substr(1);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string::npos) {
      host.clear();
      port = s;
    } else {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      if (host.find(':') != std::string::npos)
        return *why = "an IPv6 address must be in brackets, e.g. [::1]:9464", false;
    }
  }
  if (host.empty()) host = "0.0.0.0";
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) > 65535)
    return *why = "expected host:port with a port of 0..65535", false;
  return true;
}

struct Conn {
  enum class State { kReading, kWriting, kDraining };
  int fd = -1;
  State state = State::kReading;
  int64_t deadline_ns = 0;
  std::string in;
  std::string out;
  size_t sent = 0;
};

void close_conn(Conn& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `s` ('+' is a space when `plus`); false on a malformed escape.
bool percent_decode(std::string_view s, bool plus, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return false;
      const int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h < 0 || l < 0) return false;
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else {
      out += plus && s[i] == '+' ? ' ' : s[i];
    }
  }
  return true;
}

}  // namespace

HttpServer::HttpServer(std::string listen, Metrics& metrics, std::function<bool()> ready,
                       std::function<bool()> healthy, HttpLimits limits)
    : listen_(std::move(listen)),
      metrics_(metrics),
      ready_(std::move(ready)),
      healthy_(std::move(healthy)),
      limits_(limits) {}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::start(std::string* error) {
  if (thread_.joinable()) return true;
  auto fail = [&](const std::string& why) {
    if (error != nullptr) *error = "cannot listen on " + listen_ + ": " + why;
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    return false;
  };
  std::string host, port, why;
  if (!split_listen(listen_, host, port, &why)) return fail(why);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail("cannot resolve '" + host + "': " + ::gai_strerror(rc));
  int last_errno = 0;
  for (addrinfo* a = res; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // restart over TIME_WAIT
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      last_errno = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return fail(std::strerror(last_errno != 0 ? last_errno : EADDRNOTAVAIL));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return fail(std::strerror(errno));
  port_ = bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return fail(std::strerror(errno));
  stopping_.store(false);
  thread_ = std::thread([this] { loop(); });
  return true;
}

void HttpServer::set_routes(std::vector<HttpRoute> routes) {
  routes_.store(std::make_shared<const std::vector<HttpRoute>>(std::move(routes)));
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

size_t http_head_end(std::string_view s) {
  for (size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
    if (i + 1 < s.size() && s[i + 1] == '\n') return i + 2;
    if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

HttpRequestHead parse_http_request(std::string_view head) {
  HttpRequestHead req;
  auto error = [&](int status) {
    req.status = status;
    return req;
  };
  // Request line: METHOD SP request-target SP HTTP-version (RFC 9112, section 3).
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return error(400);
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return error(400);
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), is_tchar)) return error(400);
  if (target[0] != '/' || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    return error(400);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return error(400);
  if (version[5] != '1') return error(505);
  const std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path == "/metrics")
    req.target = HttpRequestHead::Target::kMetrics;
  else if (path == "/healthz")
    req.target = HttpRequestHead::Target::kHealth;
  else if (path == "/readyz")
    req.target = HttpRequestHead::Target::kReady;
  else
    req.target = HttpRequestHead::Target::kRoute;  // a component's endpoint, or 404
  req.head_only = method == "HEAD";
  if (method != "GET" && !req.head_only) {
    req.target = HttpRequestHead::Target::kNone;
    return error(405);
  }
  req.request_target = target;
  req.status = 200;
  return req;
}

HttpServer::Response HttpServer::answer(std::string_view head) const {
  Response r;
  const HttpRequestHead req = parse_http_request(head);
  if (req.status != 200) {
    r.status = req.status;
    r.text = error_response(req.status, req.status == 405 ? "Allow: GET, HEAD\r\n" : "");
    return r;
  }
  const bool metrics = req.target == HttpRequestHead::Target::kMetrics;
  const bool health = req.target == HttpRequestHead::Target::kHealth;
  const bool head_only = req.head_only;
  if (req.target == HttpRequestHead::Target::kRoute) return answer_route(req);
  if (metrics) {
    r.text = make_response(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize(),
                           head_only);
  } else {
    const bool ok = health ? (!healthy_ || healthy_()) : (!ready_ || ready_());
    r.status = ok ? 200 : 503;
    r.text = make_response(
        r.status, "text/plain; charset=utf-8",
        health ? (ok ? "ok\n" : "unhealthy\n") : (ok ? "ready\n" : "not ready\n"), head_only);
  }
  return r;
}

HttpServer::Response HttpServer::answer_route(const HttpRequestHead& head) const {
  Response r;
  auto error = [&](int status) {
    r.status = status;
    r.text = error_response(status, "");
    return r;
  };
  const std::string_view target = head.request_target;
  const std::string_view path = target.substr(0, target.find_first_of("?#"));
  // An endpoint of a component (set_routes): the longest matching prefix.
  const auto routes = routes_.load();
  const HttpRoute* best = nullptr;
  if (routes)
    for (const HttpRoute& route : *routes)
      if (path.substr(0, route.prefix.size()) == route.prefix &&
          (best == nullptr || route.prefix.size() > best->prefix.size()))
        best = &route;
  if (best == nullptr) return error(404);
  HttpRequest req;
  if (!percent_decode(path, false, req.path)) return error(400);
  const size_t q = target.find('?');
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    rest = rest.substr(0, rest.find('#'));
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view item = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (item.empty()) continue;
      const size_t eq = item.find('=');
      std::string k, v;
      if (!percent_decode(item.substr(0, eq), true, k) ||
          !percent_decode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1),
                          true, v))
        return error(400);
      req.query.emplace_back(std::move(k), std::move(v));
    }
  }
  HttpReply reply;
  try {
    reply = best->handler(req);
  } catch (const std::exception&) {  // a handler's bug must not take the endpoint down
    return error(500);
  }
  r.status = reply.status;
  r.text = make_response(reply.status, reply.content_type, reply.body, head.head_only);
  return r;
}

void HttpServer::loop() {
  std::vector<Conn> conns;  // in accept order: conns.front() is the oldest
  std::vector<pollfd> fds;
  int64_t accept_paused_until = 0;
  char buf[16384];
  while (!stopping_.load()) {
    const int64_t now = monotonic_ns();
    const bool accepting = now >= accept_paused_until;
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});  // poll skips a negative fd
    int64_t next = now + 1000 * kMs;
    if (!accepting) next = std::min(next, accept_paused_until);
    for (const Conn& c : conns) {
      fds.push_back(
          {c.fd, static_cast<short>(c.state == Conn::State::kWriting ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline_ns);
    }
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>((next - now + kMs - 1) / kMs, 0, 1000));
    if (::poll(fds.data(), fds.size(), wait_ms) < 0) {
      if (errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // ENOMEM
      continue;
    }
    if (stopping_.load()) break;
    const int64_t t = monotonic_ns();

    // Serve the connections that are ready; close those past their deadline.
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short re = fds[2 + i].revents;
      if (re != 0 && c.state == Conn::State::kReading) {
        for (;;) {
          const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
          if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.size() > limits_.max_request_bytes || http_head_end(c.in) != std::string::npos)
              break;
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          close_conn(c);  // closed or reset before its request was complete
          break;
        }
        if (c.fd < 0) continue;
        const size_t end = http_head_end(c.in);
        if (end != std::string::npos && end <= limits_.max_request_bytes) {
          c.out = answer(std::string_view(c.in).substr(0, end)).text;
        } else if (c.in.size() > limits_.max_request_bytes) {
          c.out = error_response(431);
        } else {
          continue;  // the head is not complete yet
        }
        c.in.clear();
        c.state = Conn::State::kWriting;
        c.deadline_ns = t + static_cast<int64_t>(limits_.write_timeout_ms) * kMs;
      }
      if (c.state == Conn::State::kWriting) {
        while (c.sent < c.out.size()) {
          const ssize_t n =
              ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
          if (n > 0) {
            c.sent += static_cast<size_t>(n);
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          close_conn(c);
          break;
        }
        if (c.fd < 0) continue;
        if (c.sent == c.out.size()) {
          // Answered: half-close, then read and discard what the client still sends until it
          // closes (or the linger time ends), so the answer is never cut off by a reset.
          ::shutdown(c.fd, SHUT_WR);
          c.out = std::string();
          c.state = Conn::State::kDraining;
          c.deadline_ns = t + kLingerNs;
        }
      } else if (re != 0 && c.state == Conn::State::kDraining) {
        for (;;) {
          const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
          if (n > 0) continue;
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          close_conn(c);
          break;
        }
      }
      if (c.fd >= 0 && t >= c.deadline_ns) {
        if (c.state == Conn::State::kWriting) {
          // A client that does not take its answer: abort (reset), dropping what the kernel
          // still buffers for it, instead of a graceful close that would keep sending.
          const linger abort{1, 0};
          ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        }
        close_conn(c);
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });

    // Accept new connections; beyond max_connections, or when the process is out of
    // descriptors, the oldest makes way. At most half of max_connections per round: serving is
    // never starved, and a connection accepted in this round is served in the next one before
    // enough newer ones can arrive to push it out (probes survive a flood).
    if (accepting && (fds[1].revents & POLLIN) != 0) {
      const size_t per_round = std::max<size_t>(limits_.max_connections / 2, 1);
      for (size_t k = 0; k < per_round; ++k) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE) {
            if (!conns.empty()) {
              close_conn(conns.front());
              conns.erase(conns.begin());
              continue;
            }
            accept_paused_until = t + 100 * kMs;  // nothing of ours to free: retry shortly
          }
          break;  // EAGAIN: no more pending
        }
        if (conns.size() >= std::max<size_t>(limits_.max_connections, 1)) {
          close_conn(conns.front());
          conns.erase(conns.begin());
        }
        Conn c;
        c.fd = fd;
        c.deadline_ns = t + static_cast<int64_t>(limits_.request_timeout_ms) * kMs;
        conns.push_back(std::move(c));
      }
    }
  }
  for (Conn& c : conns) close_conn(c);
}

}  // namespace assay::engine
