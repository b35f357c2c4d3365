// The witness client against witnesses that misbehave (a real socket server in the test): an
// answer that is not a cosignature, one that comes too late, a refusal. The pipeline's side
// never waits on them; everything is counted.
#include "connectors/witness_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engine/signed_note.hpp"
#include "engine/signing_key.hpp"
#include "engine/time.hpp"

namespace assay::connectors {
namespace {

// A one-connection-at-a-time HTTP server answering every request with `answer` after `delay`.
class FakeWitness {
 public:
  FakeWitness(std::string answer, int delay_ms) : answer_(std::move(answer)), delay_ms_(delay_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] {
      while (!stop_) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          req.append(buf, static_cast<size_t>(n));
        }
        ++requests;
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
        (void)!::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~FakeWitness() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::atomic<int> requests{0};

 private:
  std::string answer_;
  int delay_ms_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Logged {
  std::string note;
  engine::Hash32 root{};
};

Logged a_checkpoint(uint64_t size) {
  const uint8_t seed[32] = {5};
  const auto key = engine::EngineKey::from_seed(seed);
  Logged l;
  l.root[0] = static_cast<uint8_t>(size);
  const std::string body = engine::format_checkpoint_body({"log.example/0", size, l.root, {}});
  l.note = body + "\n" +
           engine::note_signature_line(
               "log.example/0", key->public_key(),
               [&](std::span<const uint8_t> m) { return key->sign(m); }, body);
  return l;
}

WitnessClientOptions options_for(const std::string& url, int timeout_ms) {
  const uint8_t seed[32] = {6};
  const auto wk = engine::EngineKey::from_seed(seed);
  WitnessConfig w;
  w.url = url;
  w.key = engine::NoteKey{"w.example", 0, engine::kNoteCosignature, wk->public_key()};
  w.key.id = engine::note_key_id(w.key.name, w.key.type, w.key.public_key);
  w.timeout_ms = timeout_ms;
  WitnessClientOptions o;
  o.witnesses.push_back(w);
  o.retry_ms = 50;
  o.max_retry_ms = 100;
  return o;
}

// Submits a checkpoint and waits until the witness was asked at least `n` times.
void exercise(WitnessClient& c, FakeWitness& w, int n) {
  std::string err;
  ASSERT_TRUE(c.start(&err)) << err;
  c.seed(0, "log.example/0", engine::MerkleFrontier());
  std::vector<engine::Hash32> leaves(4);
  const Logged l = a_checkpoint(4);
  const int64_t t0 = engine::monotonic_ns();
  c.submit(0, "log.example/0", l.note, 4, l.root, leaves);
  EXPECT_LT(engine::monotonic_ns() - t0, 50'000'000);  // never waits on the network
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (w.requests < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GE(w.requests.load(), n);
  EXPECT_TRUE(c.take(0).empty());
  const int64_t t1 = engine::monotonic_ns();
  c.wait_idle(0, t1 + 5'000'000'000);  // a failing witness is not waited for
  EXPECT_LT(engine::monotonic_ns() - t1, 1'000'000'000);
  c.stop();
}

TEST(WitnessClient, AGarbageAnswerIsCountedNotTrusted) {
  FakeWitness w("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nnot a cosig\n",
                0);
  WitnessClient c(options_for(w.url(), 2000), nullptr);
  exercise(c, w, 2);
  EXPECT_GE(c.probe().count("bad_response"), 2u);
}

TEST(WitnessClient, AnAnswerTooLateIsATimeout) {
  FakeWitness w("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 600);
  WitnessClient c(options_for(w.url(), 200), nullptr);
  exercise(c, w, 1);
  EXPECT_GE(c.probe().count("unreachable"), 1u);
}

TEST(WitnessClient, ARefusalAndAnInconsistencyAreCounted) {
  {
    FakeWitness w("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0);
    WitnessClient c(options_for(w.url(), 2000), nullptr);
    exercise(c, w, 1);
    EXPECT_GE(c.probe().count("refused"), 1u);
  }
  {
    FakeWitness w(
        "HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0);
    WitnessClient c(options_for(w.url(), 2000), nullptr);
    exercise(c, w, 1);
    EXPECT_EQ(c.probe().count("inconsistent"), 1u);  // given up for that checkpoint: asked once
  }
}

TEST(WitnessClient, NobodyListeningIsUnreachable) {
  // A port nobody listens on: bind, note the port, close.
  int port;
  {
    FakeWitness w("", 0);
    port = std::stoi(w.url().substr(w.url().rfind(':') + 1));
  }
  WitnessClient c(options_for("http://127.0.0.1:" + std::to_string(port), 500), nullptr);
  std::string err;
  ASSERT_TRUE(c.start(&err));
  c.seed(0, "log.example/0", engine::MerkleFrontier());
  std::vector<engine::Hash32> leaves(4);
  const Logged l = a_checkpoint(4);
  c.submit(0, "log.example/0", l.note, 4, l.root, leaves);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (c.probe().count("unreachable") < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(c.probe().count("unreachable"), 2u);  // retried with back-off
  c.stop();
}

}  // namespace
}  // namespace assay::connectors
