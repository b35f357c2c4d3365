#pragma once
/// \file Registration of the built-in sources and sinks.

#include "engine/pipeline.hpp"

namespace assay::connectors {

/// Adds every built-in source and sink type ("file", "jsonl", ...) to `registries`.
void register_builtin_connectors(engine::Registries& registries);

}  // namespace assay::connectors
