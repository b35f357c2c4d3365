#pragma once
/// \file Internal interface between the Ed25519 verifier (ed25519.cpp) and its multi-scalar
/// multiplication back ends (portable in ed25519.cpp, AVX-512 IFMA in ed25519_avx512.cpp).

#include <span>

#include "crypto/ed25519_internal.hpp"

namespace assay::crypto::ed25519_batch {

/// One term [scalar] * point of a multi-scalar multiplication. `w` is the wNAF window width
/// (2..8). `table`, if set, holds the odd multiples P, 3P, ..., (2^(w-1) - 1)P in cached form
/// with every limb < 2^52 (a cached key, see Ed25519KeyCache in ed25519.cpp); otherwise the back
/// end builds one (the AVX-512 engine with window 5, the portable one with window w).
struct MsmTerm {
  const ed25519_internal::GeP3* point;
  ed25519_internal::Sc scalar;  ///< < 2^253
  int w;
  const ed25519_internal::GeCached* table = nullptr;
};

/// Computes [base_scalar] B + sum [t.scalar] t.point (base_scalar may be null: no B term).
using MsmFn = ed25519_internal::GeP2 (*)(const ed25519_internal::Sc* base_scalar,
                                          std::span<const MsmTerm> terms);

/// Computes ge_decode_core (x, u, vxx from y) for n y-coordinates.
using DecodeCoreFn = void (*)(const ed25519_internal::Fe* y, ed25519_internal::Fe* x,
                              ed25519_internal::Fe* u, ed25519_internal::Fe* vxx, size_t n);

/// Builds, for each of n points, its 2^(w-2) odd multiples P, 3P, ... in cached form with
/// every limb < 2^52 (out[i] has room for them).
using OddTablesFn = void (*)(const ed25519_internal::GeP3* const* points, size_t n, int w,
                             ed25519_internal::GeCached* const* out);

/// The arithmetic a backend provides to the (shared) verification logic.
struct Engine {
  MsmFn msm;                  ///< multi-scalar multiplication for batch equations
  MsmFn msm_single;           ///< the same, for the 3-term single-verification equation
  DecodeCoreFn decode_core;   ///< bulk point decompression (heavy part)
  OddTablesFn odd_tables;     ///< tables of cached keys
};

/// Portable odd_tables.
void odd_tables_portable(const ed25519_internal::GeP3* const* points, size_t n, int w,
                         ed25519_internal::GeCached* const* out);

/// Portable radix-2^51 Straus (interleaved wNAF).
ed25519_internal::GeP2 msm_portable(const ed25519_internal::Sc* base_scalar,
                                    std::span<const MsmTerm> terms);

/// The base point's odd multiples B, 3B, ..., 127B (window 8) in cached form.
const ed25519_internal::GeCached* base_odd_multiples();

/// Portable bulk decompression.
void decode_core_portable(const ed25519_internal::Fe* y, ed25519_internal::Fe* x,
                          ed25519_internal::Fe* u, ed25519_internal::Fe* vxx, size_t n);

/// The AVX-512 IFMA engine, or null if it was not built. Call only after
/// backend_supported(Backend::kAvx512).
const Engine* avx512_engine();

}  // namespace assay::crypto::ed25519_batch
