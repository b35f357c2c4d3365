#include "registries/live_source.hpp"

#include <chrono>

#include "engine/files.hpp"

namespace assay::registries {

LiveSource::LiveSource(std::string name, int64_t reload_interval_ms,
                       std::shared_ptr<engine::AuditLog> audit)
    : name_(std::move(name)), reload_interval_ms_(reload_interval_ms), audit_(std::move(audit)) {}

LiveSource::~LiveSource() {
  stop();
}

void LiveSource::watch_files(std::vector<std::string> files) {
  files_ = std::move(files);
  mtimes_.clear();
  for (const auto& f : files_) mtimes_.push_back(file_stamp(f));
}

void LiveSource::follow_topic(TopicSource source,
                              connectors::CompactedTopicFollower::OnMessage on_message) {
  topic_ = std::move(source);
  on_message_ = std::move(on_message);
}

bool LiveSource::start(std::string* error) {
  stop_.store(false);
  if (topic_ && !follower_) {
    auto follower = std::make_unique<connectors::CompactedTopicFollower>(
        topic_->kafka, topic_->topic, on_message_, [this] { publish(); });
    if (!follower->start(error)) return false;
    // ready() may be asked from another thread (readiness probe) while this one starts.
    std::lock_guard<std::mutex> lock(follower_mu_);
    follower_ = std::move(follower);
  }
  if (reload_interval_ms_ > 0 && !files_.empty() && !watcher_.joinable())
    watcher_ = std::thread([this] { watch_loop(); });
  return true;
}

void LiveSource::stop() {
  stop_.store(true);
  if (watcher_.joinable()) watcher_.join();
  if (follower_) follower_->stop();
}

int64_t LiveSource::file_stamp(const std::string& file) const {
  return engine::file_mtime_ns(file);
}

bool LiveSource::ready() const {
  std::lock_guard<std::mutex> lock(follower_mu_);
  return !follower_ || follower_->caught_up();
}

void LiveSource::audit(std::string_view what, engine::AuditDetails details) const {
  if (audit_) audit_->record("registry." + name_ + "_" + std::string(what), std::move(details));
}

void LiveSource::watch_loop() {
  int64_t waited = 0;
  constexpr int64_t kTickMs = 20;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
    waited += kTickMs;
    if (waited < reload_interval_ms_) continue;
    waited = 0;
    bool changed = false;
    for (size_t i = 0; i < files_.size(); ++i) {
      const int64_t m = file_stamp(files_[i]);
      if (m != 0 && m != mtimes_[i]) {
        mtimes_[i] = m;
        changed = true;
      }
    }
    if (changed) on_files_changed();
  }
}

}  // namespace assay::registries
