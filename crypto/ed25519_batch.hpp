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

/// One independent single equation: [s] B + [k] neg_a + neg_r (the caller checks that [8] of the
/// result is the identity). `a_table`, if set, holds neg_a's odd multiples for window `a_w` in
/// cached form with every limb < 2^52 (a cached key); otherwise the back end builds one.
struct SingleEq {
  const ed25519_internal::GeP3* neg_a;
  const ed25519_internal::GeCached* a_table;
  int a_w;
  const ed25519_internal::GeP3* neg_r;
  ed25519_internal::Sc s;  ///< < L
  ed25519_internal::Sc k;  ///< < L
  /// Optional (engines with `split` only): the multiples 1..kSplitEntries (cached form, limbs
  /// < 2^52) of [2^(64 i)] neg_a for i = 0..3, so that [k] neg_a is evaluated as four 64-bit
  /// products in fixed signed radix-32 windows: 65 doublings instead of 253, and the same
  /// digit positions in every lane.
  const ed25519_internal::GeCached* const* a_split = nullptr;
};

/// Evaluates each equation on its own (out[i] for eqs[i]); no combination across equations.
using SingleManyFn = void (*)(std::span<const SingleEq> eqs, ed25519_internal::GeP2* out);

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
  SingleManyFn single_many;   ///< independent single equations (8 per pass on AVX-512)
  bool split;                 ///< single_many uses SingleEq::a_split when given
};

/// Entries of each split table (SingleEq::a_split): the multiples 1..16.
inline constexpr int kSplitEntries = 16;

/// The multiples 1..kSplitEntries of [2^(64 i)] B, i = 0..3, in cached form, limbs < 2^52.
const ed25519_internal::GeCached* base_split_multiples(int i);

/// out[j] = (j + 1) p in cached form with every limb < 2^52, j < n.
void all_multiples_carried(ed25519_internal::GeCached* out, const ed25519_internal::GeP3& p, int n);

/// [2^64] p.
ed25519_internal::GeP3 times_2_64(ed25519_internal::GeP3 p);

/// Portable single_many: one msm_portable per equation.
void single_many_portable(std::span<const SingleEq> eqs, ed25519_internal::GeP2* out);

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
