#include "engine/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "engine/metrics.hpp"

namespace assay::engine {
namespace {

std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(HttpServer, ServesMetricsHealthAndReadiness) {
  Metrics m;
  m.counters("assay_test_things_total", "Things").Add({{"pipeline", "p"}}).Increment(3);
  std::atomic<bool> ready{false};
  HttpServer s("127.0.0.1:0", m, [&] { return ready.load(); }, [] { return true; });
  std::string err;
  ASSERT_TRUE(s.start(&err)) << err;
  ASSERT_GT(s.port(), 0);
  const std::string metrics = http_get(s.port(), "/metrics");
  EXPECT_NE(metrics.find("200 OK"), std::string::npos);
  EXPECT_NE(metrics.find("assay_test_things_total{pipeline=\"p\"} 3"), std::string::npos) << metrics;
  EXPECT_NE(http_get(s.port(), "/healthz").find("200 OK"), std::string::npos);
  EXPECT_NE(http_get(s.port(), "/readyz").find("503"), std::string::npos);
  ready = true;
  EXPECT_NE(http_get(s.port(), "/readyz").find("200 OK"), std::string::npos);
  EXPECT_NE(http_get(s.port(), "/nope").find("404"), std::string::npos);
  s.stop();
}

TEST(HttpServer, RefusesAnAddressInUse) {
  Metrics m;
  HttpServer a("127.0.0.1:0", m, nullptr, nullptr);
  std::string err;
  ASSERT_TRUE(a.start(&err));
  HttpServer b("127.0.0.1:" + std::to_string(a.port()), m, nullptr, nullptr);
  EXPECT_FALSE(b.start(&err));
  EXPECT_NE(err.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace assay::engine
