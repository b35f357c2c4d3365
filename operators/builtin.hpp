#pragma once
/// \file Registration of the built-in operators.

#include "engine/operator.hpp"

namespace assay::operators {

/// Adds every built-in operator type ("verify_signature", ...) to `registry`.
void register_builtin_operators(engine::OperatorRegistry& registry);

}  // namespace assay::operators
