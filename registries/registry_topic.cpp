#include "registries/registry_topic.hpp"

#include "engine/log.hpp"

namespace assay::registries {

RegistryTopicFollower::RegistryTopicFollower(connectors::KafkaClientSettings client, std::string topic,
                                             std::function<void()> on_change)
    : follower_(
          std::move(client), std::move(topic),
          [this](std::string_view key, std::optional<std::string_view> value,
                 const std::string& where) { apply(key, value, where); },
          std::move(on_change)) {}

void RegistryTopicFollower::apply(std::string_view key, std::optional<std::string_view> value,
                                  const std::string& where) {
  if (key.empty()) {
    ++refused_;
    engine::log_error("registry_topic", "entry without a key refused", {{"where", where}});
    return;
  }
  if (!value) {
    std::lock_guard<std::mutex> lock(mu_);
    overlay_[std::string(key)] = std::nullopt;  // tombstone
    ++applied_;
    return;
  }
  try {
    const engine::ConfigNode node = engine::ConfigNode::load_string(std::string(*value), where);
    RegistryLoadReport report;
    SensorEntry e = parse_sensor_entry(node, report);
    for (const auto& r : report.refused)
      engine::log_error("registry_topic", "key refused", {{"detail", r}});
    if (e.sensor.sensor_id != key) {
      ++refused_;
      engine::log_error("registry_topic", "entry refused: message key differs from sensor_id",
                        {{"where", where}, {"key", std::string(key)}});
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    overlay_[std::string(key)] = std::move(e);
    ++applied_;
  } catch (const engine::ConfigError& e) {
    ++refused_;
    engine::log_error("registry_topic", "entry refused", {{"error", e.what()}});
  }
}

void RegistryTopicFollower::apply_to(IdentityRegistry& registry) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [sensor, entry] : overlay_) {
    if (entry)
      registry.put(entry->sensor, entry->keys);
    else
      registry.erase(sensor);
  }
}

}  // namespace assay::registries
