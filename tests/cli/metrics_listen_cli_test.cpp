// Issue 13 (also): a `metrics.listen` that cannot be bound is a configuration error that names
// the key's file:line:column and the system's reason, with exit code 2.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "cli_util.hpp"

namespace assay::clitest {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("assay-listen-" + std::to_string(getpid()) + "-" +
                                                  std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

TEST(CliMetricsListen, AnAddressInUseNamesTheKeyLocationAndTheReason) {
  // Hold a port.
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(s, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));

  const fs::path d = temp_dir();
  std::ofstream(d / "in.asy").flush();  // an empty input
  const fs::path p = d / "pipeline.yaml";
  std::ofstream(p) << "name: x\n"
                      "input: {type: file, path: in.asy}\n"
                      "routes:\n"
                      "  trusted: {type: file, path: t.asy}\n"
                      "  rejected: {type: jsonl, path: r.jsonl}\n"
                      "metrics:\n"
                      "  listen: 127.0.0.1:" +
                          port + "\n";
  const Result r = sh(kAssay + " run " + p.string() + " --no-progress --no-reload");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(p.string() + ":7:11: key 'metrics.listen': cannot listen on 127.0.0.1:" +
                       port + ": Address already in use"),
            std::string::npos)
      << r.out;

  // A malformed address: the same location, the reason for that one.
  std::ofstream(p) << "name: x\n"
                      "input: {type: file, path: in.asy}\n"
                      "routes:\n"
                      "  trusted: {type: file, path: t.asy}\n"
                      "  rejected: {type: jsonl, path: r.jsonl}\n"
                      "metrics:\n"
                      "  listen: 127.0.0.1:http\n";
  const Result m = sh(kAssay + " run " + p.string() + " --no-progress --no-reload");
  EXPECT_EQ(m.code, 2) << m.out;
  EXPECT_NE(
      m.out.find(p.string() + ":7:11: key 'metrics.listen': cannot listen on 127.0.0.1:http: "),
      std::string::npos)
      << m.out;
  close(s);
  fs::remove_all(d);
}

}  // namespace
}  // namespace assay::clitest
