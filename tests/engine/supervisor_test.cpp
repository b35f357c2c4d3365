// engine::Supervisor in-process (issue 12): the supervision that `assay run` had behind process
// globals runs in a test without spawning the binary. A changed pipeline file is reloaded
// after a graceful drain; an invalid one is refused with its location while the running
// pipeline keeps going; a requested reload reloads; a requested stop drains and ends the run.
// No record is lost across generations.
#include "engine/supervisor.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "connectors/builtin.hpp"
#include "connectors/memory.hpp"
#include "operators/builtin.hpp"
#include "records.hpp"
#include "registries/pipeline.hpp"

namespace assay::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// One queue of input that outlives pipeline generations: each generation's `feed` source reads
// on from where the previous one stopped.
class FeedSource final : public Source {
 public:
  explicit FeedSource(std::shared_ptr<connectors::QueueSource> q) : q_(std::move(q)) {}
  bool start(std::string*) override { return true; }
  SourceStatus next(Batch& batch, size_t max_frames) override {
    return q_->next(batch, max_frames);
  }
  std::string describe() const override { return "feed"; }

 private:
  std::shared_ptr<connectors::QueueSource> q_;
};

// Counts what each route received, across generations, and acknowledges at once.
class CountSink final : public Sink {
 public:
  explicit CountSink(std::atomic<uint64_t>* n) : n_(n) {}
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t>, const OutputMeta&, uint64_t token) override {
    n_->fetch_add(1);
    if (ack_) ack_(token, true);
    return true;
  }
  bool flush(int) override { return true; }
  std::string describe() const override { return "count"; }

 private:
  std::atomic<uint64_t>* n_;
};

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("assay-supervisor-" + std::to_string(getpid()) + "-" +
                                              std::to_string(std::random_device{}()));
  std::shared_ptr<connectors::QueueSource> feed = std::make_shared<connectors::QueueSource>("feed");
  std::atomic<uint64_t> trusted{0}, rejected{0};
  Registries reg;

  Fixture() {
    fs::create_directories(dir);
    operators::register_builtin_operators(reg.operators);
    connectors::register_builtin_connectors(reg);
    registries::register_sections(reg);
    reg.sources["feed"] = [this](const ConfigNode&, BuildContext&) {
      return std::make_unique<FeedSource>(feed);
    };
    reg.sinks["count"] = [this](const ConfigNode&, Route route, BuildContext&) {
      return std::make_unique<CountSink>(route == Route::kTrusted ? &trusted : &rejected);
    };
  }
  ~Fixture() { fs::remove_all(dir); }

  fs::path file() const { return dir / "pipeline.yaml"; }
  void write(const std::string& name, const std::string& extra = "") const {
    const fs::path tmp = dir / "pipeline.yaml.tmp";
    std::ofstream(tmp) << "name: " << name << "\ninput: {type: feed}\n"
                       << "routes:\n  trusted: {type: count}\n  rejected: {type: count}\n"
                       << "operators:\n  - type: anomaly\n    reject: [replay]\n"
                       << "engine: {batch_size: 16, max_in_flight: 2}\n"
                       << extra;
    fs::rename(tmp, file());  // atomically, as a ConfigMap update does
  }
  void push(int first, int n) {
    for (int i = first; i < first + n; ++i)
      feed->push(testing::make_reading("urn:s:" + std::to_string(i % 7), i / 7 + 1, 20.0 + i % 3));
  }
  uint64_t outputs() const { return trusted.load() + rejected.load(); }
};

template <class F>
bool wait_for(F&& f, std::chrono::milliseconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!f()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(Supervisor, ReloadsRefusesAnInvalidFileAndStopsInProcess) {
  Fixture fx;
  fx.write("gen-1");
  Metrics metrics;
  std::mutex mu;
  std::vector<std::pair<bool, std::string>> reloads;  // (ok, error)
  std::atomic<int> generations{0};
  SupervisorOptions o;
  o.config_path = fx.file().string();
  o.watch_interval_ms = 20;
  o.on_start = [&](const Runner&) { generations.fetch_add(1); };
  o.on_reload = [&](bool ok, const std::string&, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu);
    reloads.emplace_back(ok, error);
  };
  Supervisor sup(fx.reg, metrics, o);
  auto first = load_pipeline(fx.file().string(), fx.reg, metrics);
  SupervisedRun result;
  std::thread t([&] { result = sup.run(std::move(first)); });
  auto reload_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return reloads.size();
  };

  fx.push(0, 700);
  ASSERT_TRUE(wait_for([&] { return fx.outputs() >= 700; }));
  EXPECT_TRUE(wait_for([&] { return sup.ready(); }));

  // 1. A changed file: drained and replaced by the new generation.
  fx.write("gen-2");
  ASSERT_TRUE(wait_for([&] { return reload_count() >= 1; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(reloads[0].first) << reloads[0].second;
  }
  ASSERT_TRUE(wait_for([&] { return generations.load() == 2; }));
  fx.push(700, 700);
  ASSERT_TRUE(wait_for([&] { return fx.outputs() >= 1400; }));

  // 2. An invalid file: refused with file:line:column; the running generation keeps going.
  fx.write("gen-3", "operatorz: []\n");
  ASSERT_TRUE(wait_for([&] { return reload_count() >= 2; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(reloads[1].first);
    EXPECT_NE(reloads[1].second.find("pipeline.yaml:"), std::string::npos) << reloads[1].second;
    EXPECT_NE(reloads[1].second.find("operatorz"), std::string::npos) << reloads[1].second;
  }
  fx.push(1400, 700);
  ASSERT_TRUE(wait_for([&] { return fx.outputs() >= 2100; }));
  EXPECT_EQ(generations.load(), 2);

  // 3. A requested reload of a valid file (content unchanged since it was fixed) reloads.
  fx.write("gen-3");
  ASSERT_TRUE(wait_for([&] { return reload_count() >= 3; }));
  sup.request_reload();
  ASSERT_TRUE(wait_for([&] { return reload_count() >= 4; }));
  ASSERT_TRUE(wait_for([&] { return generations.load() == 4; }));

  // 4. Stop on request: the last records are drained, nothing is lost.
  fx.push(2100, 700);
  ASSERT_TRUE(wait_for([&] { return fx.outputs() >= 2800; }));
  sup.request_stop();
  t.join();
  EXPECT_TRUE(result.started);
  EXPECT_FALSE(result.config_error);
  EXPECT_EQ(result.reason, "stop requested");
  EXPECT_EQ(fx.trusted.load() + fx.rejected.load(), 2800u);
  // Each sensor's sequence numbers keep rising across the generations: nothing is rejected.
  EXPECT_EQ(fx.rejected.load(), 0u);
  EXPECT_EQ(result.summary.rows_in, 2800u);
  EXPECT_EQ(result.summary.trusted, 2800u);
  ASSERT_NE(sup.pipeline(), nullptr);
  EXPECT_EQ(sup.pipeline()->info.name, "gen-3");
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(reloads.size(), 4u);
    EXPECT_TRUE(reloads[2].first) << reloads[2].second;
    EXPECT_TRUE(reloads[3].first) << reloads[3].second;
  }
}

TEST(Supervisor, AnInputThatEndsEndsTheRun) {
  Fixture fx;
  fx.write("ends");
  fx.push(0, 100);
  fx.feed->close();
  Metrics metrics;
  Supervisor sup(fx.reg, metrics, {});
  const SupervisedRun r = sup.run(load_pipeline(fx.file().string(), fx.reg, metrics));
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.reason, "input ended");
  EXPECT_EQ(r.summary.rows_in, 100u);
  EXPECT_EQ(fx.trusted.load(), 100u);
}

}  // namespace
}  // namespace assay::engine
