#pragma once
/// \file Services: long-lived components a pipeline owns beside its operators and shares
/// between them (a live registry with its file watcher and compacted-topic follower, a
/// witness client). Operators are immutable configured objects without threads, clients or
/// paths; what they need that lives and changes is a service they receive through the
/// BuildContext. The pipeline starts its services before its operators and stops them after;
/// a service that is not ready holds back input (backpressure), like an operator.

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/http_route.hpp"

namespace assay::engine {

/// A pipeline-owned component with a life cycle.
class Service {
 public:
  virtual ~Service() = default;
  /// What it is, for logs ("identity registry sensors.yaml").
  virtual std::string describe() const = 0;
  /// Starts threads and clients; false with a message if it cannot (the pipeline does not start).
  virtual bool start(std::string* error) = 0;
  /// Stops them (idempotent).
  virtual void stop() = 0;
  /// False while it cannot serve yet (e.g. a topic's initial content is still loading). Cheap,
  /// never blocks.
  virtual bool ready() const { return true; }
  /// Read-only JSON endpoints it serves on the pipeline's HTTP endpoint (`metrics.listen`)
  /// while its pipeline runs; handlers run on the server thread and must not block.
  virtual std::vector<HttpRoute> http_routes() { return {}; }
};

/// The services of one pipeline, each under a key that says what it serves (for example
/// "identity:/etc/assay/sensors.yaml"): operators that name the same thing share one.
class ServiceSet {
 public:
  /// The service under `key` if there is one of type T (null otherwise).
  template <class T>
  std::shared_ptr<T> find(const std::string& key) const {
    const std::string& target = resolve(key);
    for (const auto& [k, s] : services_)
      if (k == target) return std::dynamic_pointer_cast<T>(s);
    return nullptr;
  }
  /// Removes the service under `key` (e.g. a client a test replaces by memory); no-op if none.
  void remove(const std::string& key) {
    for (auto it = services_.begin(); it != services_.end(); ++it)
      if (it->first == key) {
        services_.erase(it);
        return;
      }
  }
  /// Makes `alias` another name of the service under `key` (e.g. "identity:default").
  void alias(const std::string& alias, const std::string& key) { aliases_.emplace_back(alias, key); }
  /// Adds `service` under `key`; throws std::logic_error if the key is taken.
  template <class T>
  std::shared_ptr<T> add(const std::string& key, std::shared_ptr<T> service) {
    for (const auto& [k, s] : services_)
      if (k == key) throw std::logic_error("service '" + key + "' exists");
    services_.emplace_back(key, service);
    return service;
  }
  /// Every service of type T, in the order they were added.
  template <class T>
  std::vector<std::shared_ptr<T>> all() const {
    std::vector<std::shared_ptr<T>> out;
    for (const auto& [k, s] : services_)
      if (auto t = std::dynamic_pointer_cast<T>(s)) out.push_back(std::move(t));
    return out;
  }
  /// Starts every service in the order added; on a failure stops those already started and
  /// returns false with "DESCRIPTION: message".
  bool start_all(std::string* error);
  /// Stops every service in reverse order.
  void stop_all();
  /// True if every service is ready.
  bool ready() const;
  /// Number of services.
  size_t size() const { return services_.size(); }
  /// The HTTP endpoints of every service (Service::http_routes), in the order added.
  std::vector<HttpRoute> http_routes() const {
    std::vector<HttpRoute> out;
    for (const auto& [k, s] : services_)
      for (HttpRoute& r : s->http_routes()) out.push_back(std::move(r));
    return out;
  }

 private:
  const std::string& resolve(const std::string& key) const {
    for (const auto& [a, k] : aliases_)
      if (a == key) return k;
    return key;
  }
  std::vector<std::pair<std::string, std::shared_ptr<Service>>> services_;
  std::vector<std::pair<std::string, std::string>> aliases_;
  size_t started_ = 0;
};

}  // namespace assay::engine
