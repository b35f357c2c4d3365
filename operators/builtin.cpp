#include "operators/builtin.hpp"

#include "operators/anomaly.hpp"
#include "operators/calibration.hpp"
#include "operators/drift.hpp"
#include "operators/ocmf_checks.hpp"
#include "operators/senml_checks.hpp"
#include "operators/privacy.hpp"
#include "operators/provenance.hpp"
#include "operators/verify_signature.hpp"

namespace assay::operators {

void register_builtin_operators(engine::OperatorRegistry& r) {
  r.add("verify_signature", &VerifySignature::from_config);
  r.add("privacy", &Privacy::from_config);
  r.add("calibration", &Calibration::from_config);
  r.add("anomaly", &Anomaly::from_config);
  r.add("drift", &Drift::from_config);
  r.add("provenance", &Provenance::from_config);
  r.add("ocmf_checks", &OcmfChecks::from_config);
  r.add("senml_checks", &SenmlChecks::from_config);
}

}  // namespace assay::operators
