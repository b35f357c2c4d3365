#include "connectors/witness_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>

#include "engine/bytes.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/time.hpp"

namespace assay::connectors {
namespace {

using engine::Hash32;

constexpr size_t kMaxResponse = 64 * 1024;

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (out->size() + bytes > kMaxResponse) return 0;  // garbage: abort the transfer
  out->append(data, bytes);
  return bytes;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

// ---- probe -----------------------------------------------------------------------------------

WitnessProbe::WitnessProbe(engine::Metrics* metrics, const std::string& pipeline)
    : metrics_(metrics), pipeline_(pipeline) {
  if (metrics_ != nullptr)
    backlog_ = &metrics_
                    ->gauges("assay_witness_backlog_records",
                             "Leaf hashes kept for witness consistency proofs")
                    .Add({{"pipeline", pipeline_}});
}

void WitnessProbe::request(const std::string& witness, const std::string& result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[result];
  }
  if (metrics_ != nullptr)
    metrics_
        ->counters("assay_witness_requests_total",
                   "add-checkpoint requests to witnesses, by result")
        .Add({{"pipeline", pipeline_}, {"witness", witness}, {"result", result}})
        .Increment();
}

void WitnessProbe::cosigned(const std::string& witness) {
  if (metrics_ != nullptr)
    metrics_->counters("assay_witness_cosignatures_total", "Valid cosignatures received")
        .Add({{"pipeline", pipeline_}, {"witness", witness}})
        .Increment();
}

void WitnessProbe::pending(const std::string& witness, double n) {
  if (metrics_ != nullptr)
    metrics_
        ->gauges("assay_witness_pending",
                 "Logs whose latest checkpoint the witness has not cosigned yet")
        .Add({{"pipeline", pipeline_}, {"witness", witness}})
        .Set(n);
}

void WitnessProbe::dropped(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_["dropped:" + reason];
  }
  if (metrics_ != nullptr)
    metrics_
        ->counters("assay_witness_dropped_total",
                   "Checkpoints or results given up (superseded, unprovable, results_full)")
        .Add({{"pipeline", pipeline_}, {"reason", reason}})
        .Increment();
}

void WitnessProbe::backlog(double n) {
  if (backlog_ != nullptr) backlog_->Set(n);
}

uint64_t WitnessProbe::count(const std::string& result) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(result);
  return it == counts_.end() ? 0 : it->second;
}

// ---- client ----------------------------------------------------------------------------------

namespace {

// One log (chain) as the client knows it: the tree at `base` plus the leaves after it, and the
// latest checkpoint to have cosigned.
struct LogState {
  int32_t partition = 0;
  engine::MerkleFrontier base;
  std::vector<Hash32> leaves;  // leaves [base.size(), base.size() + leaves.size())
  bool has_latest = false;
  std::string note;
  uint64_t size = 0;
  Hash32 root{};
  uint64_t generation = 0;  // bumped by seed(): a new incarnation of the log in this process
};

// What one witness is known to hold, per origin.
struct WitnessView {
  bool known = false;              // `size` is the witness's latest size for the origin
  uint64_t size = 0;               // its latest cosigned size
  uint64_t given_up = UINT64_MAX;  // a checkpoint size it refused for good (or unprovable)
  bool in_flight = false;
  bool failing = false;  // its last request failed (down, refused, garbage): not waited for
};

}  // namespace

struct WitnessClient::Impl {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, LogState> logs;                   // by origin
  std::vector<std::map<std::string, WitnessView>> views;  // per witness, by origin
  std::vector<std::thread> threads;
  std::vector<std::pair<CosignedCheckpoint, uint64_t>> results;  // with the log generation
  std::atomic<bool> stop{false};

  // The subtree hash [a, b) of `log`, for a proof from a size >= its base.
  static bool subtree(const LogState& log, uint64_t a, uint64_t b, Hash32* out) {
    const uint64_t base = log.base.size();
    if (b <= a || b > base + log.leaves.size()) return false;
    if (a >= base) {
      *out = engine::merkle_root(std::span<const Hash32>(log.leaves).subspan(a - base, b - a));
      return true;
    }
    if (b <= base) return log.base.node(a, b, out);
    const uint64_t n = b - a;  // straddles the base: only a complete, aligned subtree can
    if ((n & (n - 1)) != 0 || a % n != 0) return false;
    Hash32 l, r;
    if (!subtree(log, a, a + n / 2, &l) || !subtree(log, a + n / 2, b, &r)) return false;
    *out = engine::merkle_node(l, r);
    return true;
  }

  // Drops leaves every witness is past (and, over the cap, the oldest regardless).
  void trim(const std::string& origin, LogState& log, size_t cap, WitnessProbe& probe) {
    uint64_t keep_from = log.base.size() + log.leaves.size();
    for (auto& v : views) {
      auto it = v.find(origin);
      if (it == v.end() || !it->second.known) {
        keep_from = log.base.size();  // unknown: it may need a proof from anywhere
        break;
      }
      if (it->second.given_up == log.size) continue;
      keep_from = std::min(keep_from, std::max(it->second.size, log.base.size()));
    }
    if (log.leaves.size() > cap) {
      const uint64_t forced = log.base.size() + (log.leaves.size() - cap);
      if (forced > keep_from) {
        probe.dropped("unprovable");
        keep_from = forced;
      }
    }
    const uint64_t drop = keep_from - log.base.size();
    if (drop == 0) return;
    log.base.append(std::span<const Hash32>(log.leaves).subspan(0, drop));
    log.leaves.erase(log.leaves.begin(), log.leaves.begin() + static_cast<std::ptrdiff_t>(drop));
  }
};

WitnessClient::WitnessClient(WitnessClientOptions options, engine::Metrics* metrics)
    : options_(std::move(options)),
      probe_(metrics, options_.pipeline),
      impl_(std::make_unique<Impl>()) {
  impl_->views.resize(options_.witnesses.size());
}

WitnessClient::~WitnessClient() {
  stop();
}

bool WitnessClient::start(std::string*) {
  if (running_.exchange(true)) return true;
  global_init();
  impl_->stop = false;
  for (size_t w = 0; w < options_.witnesses.size(); ++w) {
    impl_->threads.emplace_back([this, w] {
      CURL* curl = curl_easy_init();
      const WitnessConfig& cfg = options_.witnesses[w];
      const std::string name = cfg.key.name;
      int backoff = options_.retry_ms;
      int64_t next_attempt = 0;
      std::string response;
      while (!impl_->stop.load()) {
        // Pick a log whose latest checkpoint this witness has not cosigned.
        std::string origin, body;
        uint64_t size = 0, old = 0, generation = 0;
        int32_t partition = 0;
        Hash32 root{};
        std::string note;
        {
          std::unique_lock<std::mutex> lock(impl_->mu);
          auto& views = impl_->views[w];
          size_t pending = 0;
          for (auto& [o, log] : impl_->logs) {
            if (!log.has_latest) continue;
            WitnessView& v = views[o];
            if ((v.known && v.size >= log.size) || v.given_up == log.size) continue;
            ++pending;
            if (!origin.empty()) continue;
            origin = o;
          }
          probe_.pending(name, static_cast<double>(pending));
          const int64_t now = engine::monotonic_ns();
          if (origin.empty() || now < next_attempt) {
            const int64_t wait_ns = origin.empty() ? int64_t{1'000'000'000} : next_attempt - now;
            impl_->cv.wait_for(lock, std::chrono::nanoseconds(wait_ns));
            continue;
          }
          LogState& log = impl_->logs[origin];
          WitnessView& v = views[origin];
          old = v.known ? v.size : 0;
          std::vector<Hash32> proof;
          if (old > 0 && (old < log.base.size() || !engine::merkle_consistency_proof(
                                                       old, log.size,
                                                       [&](uint64_t a, uint64_t b, Hash32* h) {
                                                         return Impl::subtree(log, a, b, h);
                                                       },
                                                       &proof))) {
            engine::log_warn("witness",
                             "cannot prove consistency from the size the witness holds (older "
                             "than the kept backlog); its cosignatures of this log stop",
                             {{"witness", name},
                              {"origin", origin},
                              {"witness_size", std::to_string(old)},
                              {"kept_from", std::to_string(log.base.size())}});
            probe_.request(name, "unprovable");
            probe_.dropped("unprovable");
            v.given_up = log.size;
            continue;
          }
          body = "old " + std::to_string(old) + "\n";
          for (const Hash32& h : proof) body += engine::to_base64(h) + "\n";
          body += "\n" + log.note;
          size = log.size;
          root = log.root;
          note = log.note;
          partition = log.partition;
          generation = log.generation;
          v.in_flight = true;
        }
        // The request, outside the lock.
        response.clear();
        long status = 0;
        CURLcode rc = CURLE_FAILED_INIT;
        if (curl != nullptr) {
          const std::string url = cfg.url + "/add-checkpoint";
          curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
          curl_easy_setopt(curl, CURLOPT_POST, 1L);
          curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
          curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
          curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
          curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout_ms));
          curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                           static_cast<long>(std::min(cfg.timeout_ms, 5000)));
          curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
          curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
          curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
          rc = curl_easy_perform(curl);
          if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        }
        std::string result;
        std::optional<CosignedCheckpoint> cosigned;
        uint64_t conflict_size = 0;
        bool conflict_ok = false;
        if (rc != CURLE_OK) {
          result = "unreachable";
        } else if (status == 200) {
          // The response: cosignature lines. Verified against the pinned key; others ignored.
          std::string text, why;
          std::vector<engine::NoteSignature> sigs;
          const std::string all = note + response;
          std::string lines;
          if (engine::split_note(all, &text, &sigs, &why)) {
            for (const auto& s : sigs)
              if (engine::verify_note_signature(cfg.key, text, s)) lines += s.line;
          }
          if (lines.empty()) {
            result = "bad_response";
          } else {
            result = "cosigned";
            CosignedCheckpoint c;
            c.partition = partition;
            c.origin = origin;
            c.size = size;
            c.root = root;
            c.note = note + lines;
            c.witness = name;
            cosigned = std::move(c);
          }
        } else if (status == 409) {
          std::string_view s(response);
          while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
          const auto r = std::from_chars(s.data(), s.data() + s.size(), conflict_size);
          conflict_ok = !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
          result = conflict_ok ? "conflict" : "bad_response";
        } else if (status == 422) {
          result = "inconsistent";
        } else if (status == 403 || status == 404 || status == 400) {
          result = "refused";
        } else {
          result = "unreachable";
        }
        probe_.request(name, result);
        {
          std::lock_guard<std::mutex> lock(impl_->mu);
          WitnessView& v = impl_->views[w][origin];
          v.in_flight = false;
          const bool was_failing = v.failing;
          v.failing = result != "cosigned" && result != "conflict";
          if (v.failing && !was_failing && (result == "unreachable" || result == "bad_response"))
            engine::log_warn("witness",
                             "witness not answering; its cosignatures are delayed "
                             "(the stream is not)",
                             {{"witness", name},
                              {"url", cfg.url},
                              {"result", result},
                              {"error", rc != CURLE_OK ? curl_easy_strerror(rc)
                                                       : "HTTP " + std::to_string(status)}});
          auto lit = impl_->logs.find(origin);
          const bool same_log = lit != impl_->logs.end() && lit->second.generation == generation;
          if (result == "cosigned") {
            v.known = true;
            v.size = std::max(v.size, size);
            backoff = options_.retry_ms;
            next_attempt = 0;
            probe_.cosigned(name);
            if (impl_->results.size() >= options_.max_results) {
              impl_->results.erase(impl_->results.begin());
              probe_.dropped("results_full");
            }
            impl_->results.emplace_back(std::move(*cosigned), generation);
            if (same_log) impl_->trim(origin, lit->second, options_.max_backlog_records, probe_);
          } else if (result == "conflict") {
            v.known = true;
            v.size = conflict_size;
            if (same_log && conflict_size > lit->second.size) {
              engine::log_error("witness",
                                "the witness holds a larger tree than this log: the log was rolled "
                                "back or forked; its cosignatures of this log stop",
                                {{"witness", name},
                                 {"origin", origin},
                                 {"witness_size", std::to_string(conflict_size)},
                                 {"log_size", std::to_string(lit->second.size)}});
              v.given_up = lit->second.size;
            }
          } else if (result == "inconsistent") {
            engine::log_error(
                "witness",
                "the witness refuses the checkpoint as inconsistent with what it "
                "cosigned before: a forked or rewritten history",
                {{"witness", name}, {"origin", origin}, {"size", std::to_string(size)}});
            v.given_up = size;
          } else {
            if (result == "refused" && !was_failing)
              engine::log_error(
                  "witness",
                  "the witness refuses the log (unknown origin or key: configure "
                  "the log on the witness)",
                  {{"witness", name}, {"origin", origin}, {"status", std::to_string(status)}});
            next_attempt = engine::monotonic_ns() + int64_t{backoff} * 1'000'000;
            backoff = std::min(backoff * 2, options_.max_retry_ms);
          }
        }
        impl_->cv.notify_all();
      }
      if (curl != nullptr) curl_easy_cleanup(curl);
    });
  }
  return true;
}

void WitnessClient::stop() {
  if (!running_.exchange(false)) return;
  impl_->stop = true;
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

void WitnessClient::seed(int32_t partition, const std::string& origin,
                         const engine::MerkleFrontier& base, std::span<const Hash32> leaves,
                         const std::string& note, uint64_t size, const Hash32& root) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    LogState& log = impl_->logs[origin];
    const uint64_t generation = log.generation + 1;
    log = LogState{};
    log.partition = partition;
    log.base = base;
    log.leaves.assign(leaves.begin(), leaves.end());
    log.generation = generation;
    if (!note.empty() && base.size() + leaves.size() == size) {
      log.has_latest = true;
      log.note = note;
      log.size = size;
      log.root = root;
    }
    for (auto& v : impl_->views) {
      auto it = v.find(origin);
      if (it != v.end()) it->second.given_up = UINT64_MAX;
    }
  }
  impl_->cv.notify_all();
}

void WitnessClient::submit(int32_t partition, const std::string& origin, const std::string& note,
                           uint64_t size, const Hash32& root, std::span<const Hash32> leaves) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    LogState& log = impl_->logs[origin];
    log.partition = partition;
    if (log.base.size() + log.leaves.size() + leaves.size() != size) {
      engine::log_error("witness", "checkpoint does not extend the log the client holds; reseeded",
                        {{"origin", origin}, {"size", std::to_string(size)}});
      log.leaves.clear();
      log.base = engine::MerkleFrontier();
      if (size != leaves.size()) {
        log.has_latest = false;
        return;
      }
    }
    log.leaves.insert(log.leaves.end(), leaves.begin(), leaves.end());
    if (log.has_latest) {
      for (auto& v : impl_->views) {
        auto it = v.find(origin);
        if (it == v.end() || !it->second.known || it->second.size < log.size) {
          probe_.dropped("superseded");
          break;
        }
      }
    }
    log.has_latest = true;
    log.note = note;
    log.size = size;
    log.root = root;
    impl_->trim(origin, log, options_.max_backlog_records, probe_);
    size_t backlog = 0;
    for (const auto& [o, l] : impl_->logs) backlog += l.leaves.size();
    probe_.backlog(static_cast<double>(backlog));
  }
  impl_->cv.notify_all();
}

std::vector<CosignedCheckpoint> WitnessClient::take(int32_t partition) {
  std::vector<CosignedCheckpoint> out;
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& r = impl_->results;
  for (auto it = r.begin(); it != r.end();) {
    if (it->first.partition == partition) {
      out.push_back(std::move(it->first));
      it = r.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void WitnessClient::wait_idle(int32_t partition, int64_t deadline_mono_ns) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  for (;;) {
    bool busy = false;
    for (auto& [o, log] : impl_->logs) {
      if (log.partition != partition || !log.has_latest) continue;
      for (auto& views : impl_->views) {
        const WitnessView& v = views[o];
        if (v.failing) continue;  // down or refusing: a stop does not wait for it
        if (v.in_flight || (!(v.known && v.size >= log.size) && v.given_up != log.size))
          busy = true;
      }
    }
    const int64_t now = engine::monotonic_ns();
    if (!busy || now >= deadline_mono_ns || !running_.load()) return;
    impl_->cv.wait_for(
        lock, std::chrono::nanoseconds(std::min<int64_t>(deadline_mono_ns - now, 100'000'000)));
  }
}

std::string WitnessClient::describe() const {
  return "witness client (" + std::to_string(options_.witnesses.size()) + " witness(es))";
}

}  // namespace assay::connectors
