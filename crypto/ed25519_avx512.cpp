/// \file AVX-512 IFMA back end of the Ed25519 multi-scalar multiplication (not built yet).
#include "crypto/ed25519_batch.hpp"

namespace assay::crypto::ed25519_batch {

MsmFn msm_avx512_entry() { return nullptr; }

}  // namespace assay::crypto::ed25519_batch
