#include "operators/builtin.hpp"

#include "operators/provenance.hpp"
#include "operators/verify_signature.hpp"

namespace assay::operators {

void register_builtin_operators(engine::OperatorRegistry& r) {
  r.add("verify_signature", &VerifySignature::from_config);
  r.add("provenance", &Provenance::from_config);
}

}  // namespace assay::operators
