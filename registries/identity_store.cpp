#include "registries/identity_store.hpp"

#include "engine/files.hpp"
#include "engine/log.hpp"

namespace assay::registries {

namespace {

void log_refusals(const RegistryLoadReport& report) {
  for (const std::string& r : report.refused)
    engine::log_error("identity_registry", "entry refused", {{"detail", r}});
}

}  // namespace

IdentityStore::IdentityStore(IdentitySource source, std::shared_ptr<engine::AuditLog> audit)
    : LiveSource("identity", source.reload_interval_ms, std::move(audit)),
      source_(std::move(source)) {
  RegistryLoadReport report;
  file_ = load(report);
  current_.store(file_);
  published();
  if (!source_.file.empty()) {
    engine::log_info("identity_registry", "loaded",
                     {{"path", source_.file},
                      {"sensors", std::to_string(report.sensors)},
                      {"keys", std::to_string(report.keys)},
                      {"refused", std::to_string(report.refused.size())}});
    watch_files({source_.file});
  }
  if (!source_.topic.topic.empty())
    follow_topic(source_.topic, [this](std::string_view k, std::optional<std::string_view> v,
                                       const std::string& where) { on_message(k, v, where); });
}

IdentityStore::~IdentityStore() {
  stop();
}

std::string IdentityStore::describe() const {
  std::string d = "identity registry";
  if (!source_.file.empty()) d += " " + source_.file;
  if (!source_.topic.topic.empty()) d += " + topic " + source_.topic.topic;
  return d;
}

std::shared_ptr<const IdentityRegistry> IdentityStore::load(RegistryLoadReport& report) const {
  if (source_.file.empty()) return std::make_shared<IdentityRegistry>();
  auto reg = load_identity_registry(source_.file, report);
  log_refusals(report);
  return reg;
}

engine::AuditDetails IdentityStore::counts() const {
  const auto reg = current();
  return {{"sensors", std::to_string(reg->sensor_count())},
          {"keys", std::to_string(reg->key_count())}};
}

bool IdentityStore::start(std::string* error) {
  if (!source_.file.empty()) {
    auto d = counts();
    d.emplace_back("source", source_.file);
    d.emplace_back("registry_sha256", engine::file_sha256_hex(source_.file));
    audit("loaded", std::move(d));
  }
  return LiveSource::start(error);
}

void IdentityStore::on_files_changed() {
  try {
    RegistryLoadReport report;
    set_file_registry(load(report));
    engine::log_info("identity_registry", "reloaded",
                     {{"path", source_.file},
                      {"sensors", std::to_string(report.sensors)},
                      {"refused", std::to_string(report.refused.size())}});
    auto d = counts();
    d.emplace_back("source", source_.file);
    d.emplace_back("registry_sha256", engine::file_sha256_hex(source_.file));
    d.emplace_back("refused", std::to_string(report.refused.size()));
    audit("changed", std::move(d));
  } catch (const engine::ConfigError& e) {
    engine::log_error("identity_registry", "reload refused; keeping the previous registry",
                      {{"error", e.what()}});
    auto d = counts();  // of the registry that stays
    d.emplace_back("source", source_.file);
    d.emplace_back("registry_sha256", engine::file_sha256_hex(source_.file));
    d.emplace_back("error", e.what());
    audit("reload_failed", std::move(d));
  }
}

void IdentityStore::set_file_registry(std::shared_ptr<const IdentityRegistry> registry) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    file_ = std::move(registry);
  }
  publish();
}

void IdentityStore::publish() {
  std::shared_ptr<const IdentityRegistry> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (overlay_.empty()) {
      next = file_;
    } else {
      auto merged = std::make_shared<IdentityRegistry>(*file_);
      for (const auto& [sensor, entry] : overlay_) {
        if (entry)
          merged->put(entry->sensor, entry->keys);
        else
          merged->erase(sensor);
      }
      next = std::move(merged);
    }
  }
  current_.store(std::move(next));
  std::vector<std::function<void()>> subscribers;
  {
    std::lock_guard<std::mutex> lock(subscribers_mu_);
    subscribers = subscribers_;
  }
  for (const auto& fn : subscribers) fn();
  // The generation moves once every registry derived from this one (a calibration store's
  // view of the fleet) has been published again, so that whoever waits for it sees them all.
  published();
}

void IdentityStore::subscribe(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  subscribers_.push_back(std::move(fn));
}

void IdentityStore::on_message(std::string_view key, std::optional<std::string_view> value,
                               const std::string& where) {
  auto refuse = [&](const std::string& why) {
    ++refused_;
    engine::log_error("identity_registry", "topic entry refused",
                      {{"where", where}, {"key", std::string(key)}, {"error", why}});
    audit("entry_refused", {{"source", where}, {"sensor_id", std::string(key)}, {"error", why}});
  };
  if (key.empty()) return refuse("message without a key (sensor_id)");
  if (!value) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      overlay_[std::string(key)] = std::nullopt;  // tombstone
    }
    ++applied_;
    audit("changed", {{"source", where}, {"sensor_id", std::string(key)}, {"change", "removed"}});
    return;
  }
  try {
    const engine::ConfigNode node = engine::ConfigNode::load_string(std::string(*value), where);
    RegistryLoadReport report;
    SensorEntry e = parse_sensor_entry(node, report);
    log_refusals(report);
    if (e.sensor.sensor_id != key)
      return refuse("message key differs from sensor_id '" + e.sensor.sensor_id + "'");
    // A key id names one key in the whole registry: another sensor's key id is refused.
    const auto now = current();
    for (const auto& k : e.keys) {
      const SensorKey* other = now->find_key(k.key_id);
      if (other != nullptr && other->sensor_id != e.sensor.sensor_id)
        return refuse("key_id '" + k.key_id + "' belongs to sensor '" + other->sensor_id + "'");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      overlay_[std::string(key)] = std::move(e);
    }
    ++applied_;
    audit("changed", {{"source", where}, {"sensor_id", std::string(key)}, {"change", "put"}});
  } catch (const engine::ConfigError& e) {
    refuse(e.what());
  }
}

}  // namespace assay::registries
