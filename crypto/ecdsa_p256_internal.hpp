#pragma once
// Private interface between crypto/ecdsa_p256.cpp (parsing, OpenSSL reference, dispatch) and
// crypto/ecdsa_p256_fast.cpp (Assay's own P-256 arithmetic for the batch path). Not installed.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace assay::crypto::detail {

/// Affine P-256 point, coordinates in Montgomery form (x·2^256 mod p), little-endian limbs.
struct P256Affine {
  uint64_t x[4];
  uint64_t y[4];
};

/// Per-key precomputation for the fast path. Built lazily, then immutable; thread-safe.
struct P256KeyState {
  P256Affine q{};  ///< the public key (Montgomery form)
  uint64_t qx_plain[4] = {};  ///< the public key's x, plain, little-endian limbs
  uint64_t qy_plain[4] = {};  ///< the public key's y

  /// Fixed-base comb table (no doublings at verify time), built once the key has been used
  /// kCombAfterUses times (see p256_set_comb_after_uses) while the process-wide table budget
  /// allows it.
  mutable std::atomic<uint32_t> uses{0};

  /// Small table (15 affine points, 960 bytes): Lim-Lee comb, 4 teeth 64 bits apart
  /// (sum of subsets of Q, 2^64 Q, 2^128 Q, 2^192 Q); 64 doublings + <= 64 additions per
  /// verification. Built on the key's kSmallAfterUses-th use; not counted in the budget.
  mutable std::once_flag small_once;
  mutable std::atomic<const P256Affine*> small{nullptr};
  mutable std::unique_ptr<P256Affine[]> small_storage;

  mutable std::once_flag comb_once;
  mutable std::atomic<const P256Affine*> comb{nullptr};
  mutable std::unique_ptr<P256Affine[]> comb_storage;
  mutable size_t comb_bytes = 0;

  P256KeyState() = default;
  P256KeyState(const P256KeyState&) = delete;
  P256KeyState& operator=(const P256KeyState&) = delete;
  ~P256KeyState();
};

/// Initialises q from the 65-byte uncompressed SEC1 encoding (already validated by OpenSSL).
void p256_key_state_init(P256KeyState& st, const uint8_t uncompressed[65]);

/// One prepared verification: r, s in [1, n-1] and e = SHA-256 digest, all big-endian bytes.
struct P256Item {
  const P256KeyState* key;
  uint8_t r[32];
  uint8_t s[32];
  uint8_t e[32];
};

/// Counts one use of the key and returns true if it has a table (building one now if the key
/// reached a use threshold and, for the comb table, the budget allows). Keys without a table
/// are verified by the OpenSSL path.
bool p256_key_ready(const P256KeyState& st);

/// The multi-buffer path's view of a key: counts one use and returns the key's comb table,
/// building it now if the key reached kCombAfterUses (see p256_set_table_policy) and the budget
/// allows; null while the key has none (the engine then verifies with doublings).
const P256Affine* p256_key_comb(const P256KeyState& st);

/// Verifies items[i] into verdicts[i] (1/0) with one scalar inversion for the whole span.
/// r and s must already be checked to lie in [1, n-1]; every key must be p256_key_ready.
void p256_verify_items(const P256Item* items, size_t n, uint8_t* verdicts);

/// The static comb table of G (window 8: 33 windows x 128 affine points j·2^(8i)·G, Montgomery
/// form with R = 2^256), built on first use. Shared with the multi-buffer engine.
const P256Affine* p256_g_table();

/// Bytes currently held by per-key comb tables (process-wide), and the cap.
size_t p256_comb_table_bytes();
constexpr size_t kP256CombBudgetBytes = size_t{256} << 20;  // 256 MiB
constexpr uint32_t kSmallAfterUses = 2;  ///< default policy: small table from the 2nd use
constexpr uint32_t kCombAfterUses = 8;   ///< default policy: comb table from the 8th use

/// Whether key comb tables may be built by the AVX-512 engine where the CPU has IFMA (default
/// on; the table is the same either way). For tests.
void p256_set_vector_comb_build(bool on);

/// Builds the comb table (43 × 32 entries) of a 65-byte uncompressed key with the current
/// builder. For tests.
void p256_build_comb_for_test(const uint8_t uncompressed[65], P256Affine* out);

/// Sets after how many verifications a key gets its small and its comb table (0 = at once;
/// UINT32_MAX = never). For tests and benchmarks; affects tables not built yet.
void p256_set_table_policy(uint32_t small_after, uint32_t comb_after);

}  // namespace assay::crypto::detail
