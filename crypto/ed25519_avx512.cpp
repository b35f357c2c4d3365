/// \file AVX-512 IFMA back end of the Ed25519 multi-scalar multiplication (not built yet).
#include "crypto/ed25519_batch.hpp"

namespace assay::crypto::ed25519_batch {

const Engine* avx512_engine() { return nullptr; }

}  // namespace assay::crypto::ed25519_batch
