#pragma once
/// \file How a pipeline gets its registries: one live store per registry source, created on
/// first use and registered as a service, shared by every operator that names it. A pipeline
/// names its registries once in a top-level section,
///
///     registries:
///       identity:    {file: sensors.yaml, topic: {brokers, topic, ...}, reload_interval_ms: 2000}
///       calibration: {certificates: certs.yaml, trust: labs.yaml, certificates_topic: {...},
///                     reload_interval_ms: 2000}
///
/// and operators use them; an operator's own keys (`registry:`, `registry_topic:`,
/// `certificates:`, `trust:` ...) still work and resolve to the shared store of the same source.

#include <memory>

#include "engine/operator.hpp"
#include "engine/pipeline.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_store.hpp"

namespace assay::registries {

/// The pipeline's identity store for `source` (created and registered in ctx.services on first
/// use). Throws engine::ConfigError located at `where` if the registry cannot be loaded. When a
/// pipeline uses two different identity registries, a located warning is added.
std::shared_ptr<IdentityStore> identity_store(engine::BuildContext& ctx, const IdentitySource& source,
                                              const engine::ConfigNode& where);

/// The identity registry an operator uses: the one its own keys name (`registry: FILE`,
/// `registry_topic: {brokers, topic, ...}`, `reload_interval_ms`), else the pipeline's
/// `registries.identity`; null if neither names one.
std::shared_ptr<IdentityStore> identity_store_for(const engine::ConfigNode& op,
                                                  engine::BuildContext& ctx);

/// The calibration store an operator uses: the one its own keys name (`certificates`, `trust`,
/// `certificates_topic`, `reload_interval_ms`; identity from identity_store_for), else the
/// pipeline's `registries.calibration`; null if neither names one. The store owns its metrics
/// (`assay_calibration_certificates`, `assay_calibration_certificates_refused_total`) and audit
/// events (`registry.calibration_changed`, `registry.calibration_certificate_refused`).
std::shared_ptr<CalibrationStore> calibration_store_for(const engine::ConfigNode& op,
                                                        engine::BuildContext& ctx);

/// Handles the pipeline's `registries:` section.
void build_registries_section(const engine::ConfigNode& section, engine::BuildContext& ctx);

/// Registers the `registries:` section handler.
void register_sections(engine::Registries& registries);

}  // namespace assay::registries
