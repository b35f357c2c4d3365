#pragma once
/// \file A Pipeline built from a YAML file: input, operators, routes, engine and metrics
/// settings. Building validates everything (unknown keys, unknown operator or connector
/// types, wrong types) and throws ConfigError naming file:line:column and the key; nothing
/// is started by building.

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/audit_log.hpp"
#include "engine/decode.hpp"
#include "engine/io.hpp"
#include "engine/operator.hpp"
#include "engine/state_store.hpp"
#include "engine/witness.hpp"

namespace assay::engine {

/// Builds a source from its config node.
using SourceFactory =
    std::function<std::unique_ptr<Source>(const ConfigNode& config, BuildContext& ctx)>;
/// Builds a sink for a route from its config node.
using SinkFactory =
    std::function<std::unique_ptr<Sink>(const ConfigNode& config, Route route, BuildContext& ctx)>;

/// Builds the Kafka publisher of the audit log from `audit.kafka` and `audit.topic`.
using AuditPublisherFactory = std::function<std::unique_ptr<AuditPublisher>(
    const ConfigNode& kafka, const std::string& topic, BuildContext& ctx)>;

/// Builds what a top-level section of the pipeline file configures that the engine itself does
/// not know (e.g. `registries:`), usually services in ctx.services. Runs before the input and
/// the operators are built.
using SectionFactory = std::function<void(const ConfigNode& section, BuildContext& ctx)>;

/// Factories for operators, sources and sinks by type name.
struct Registries {
  OperatorRegistry operators;
  std::map<std::string, SourceFactory, std::less<>> sources;
  std::map<std::string, SinkFactory, std::less<>> sinks;
  /// Publisher for `audit.topic` (empty: an audit topic is refused).
  AuditPublisherFactory audit_publisher;
  /// Input formats by name (`format:` on an input; `assay`, Assay's own records, is built in).
  std::map<std::string, InputFormatFactory, std::less<>> formats;
  /// Builds the witness service for provenance witnesses (empty: witnesses are refused).
  WitnessFactory witness;
  /// Builds the store of durable operator state (`state:`; empty: state is never durable).
  StateStoreFactory state_store;
  /// Handlers of top-level sections by key (e.g. "registries").
  std::map<std::string, SectionFactory, std::less<>> sections;
};

/// A configured, not yet running pipeline.
struct Pipeline {
  PipelineInfo info;
  EngineOptions engine;
  /// "host:port" for /metrics, /healthz, /readyz; empty = no HTTP endpoint.
  std::string metrics_listen;
  /// "file:line:column" of `metrics.listen` (empty when not from a file), for errors found
  /// when it is bound.
  std::string metrics_listen_at;
  std::unique_ptr<Source> source;
  /// The input's record format (null: Assay's own FlatBuffers records).
  std::unique_ptr<InputFormat> format;
  /// One sink per route; the alerts sink may be absent (alerts are then counted and logged).
  std::array<std::unique_ptr<Sink>, kRouteCount> sinks;
  std::vector<std::unique_ptr<Operator>> operators;
  /// Stage names by stage index: "decode", then each operator's name.
  std::vector<std::string> stage_names;
  /// The file it was loaded from.
  std::string file;
  /// Services shared by the operators (live registries ...): started before the operators,
  /// stopped after them.
  ServiceSet services;
  /// Exactly-once: the transactions every output, state entry and offset goes through (one of
  /// `services`); null with at-least-once.
  std::shared_ptr<Transactions> txn;
  /// Where durable operator state is kept (docs/state.md); null when it is not.
  std::unique_ptr<StateStore> state;
  /// The stateful operators whose state `state` keeps (StateStore's op indexes).
  std::vector<StateOperator> state_ops;
  /// Located warnings found while building (`assay lint` prints them).
  std::vector<std::string> warnings;
};

/// Loads and validates a pipeline file. Throws ConfigError. `audit`: an already open audit
/// log to use instead of building the one the file configures (a hot reload keeps one chain).
std::unique_ptr<Pipeline> load_pipeline(const std::string& path, const Registries& registries,
                                        Metrics& metrics,
                                        std::shared_ptr<AuditLog> audit = nullptr);
/// Same, from a parsed root node (tests); `config_bytes` is hashed into config_sha256.
std::unique_ptr<Pipeline> build_pipeline(const ConfigNode& root, const std::string& config_bytes,
                                         const Registries& registries, Metrics& metrics,
                                         std::shared_ptr<AuditLog> audit = nullptr);

}  // namespace assay::engine
