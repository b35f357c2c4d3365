#pragma once
/// \file Ed25519 signature verification (RFC 8032, cofactored equation), single and batch, with
/// run-time selection of the arithmetic back end. See docs/verification-ed25519.md.

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/cpu.hpp"

namespace assay::crypto {

/// One verification job. The pointed-to bytes must stay valid for the duration of the call.
struct Ed25519Job {
  const uint8_t* public_key;  ///< 32-byte encoded public key A.
  const uint8_t* signature;   ///< 64-byte signature R || S.
  const uint8_t* message;     ///< Message bytes (may be null when message_len == 0).
  size_t message_len;         ///< Message length in bytes.
};

/// Registry-time key check: canonical encoding, decodes to a curve point, not of small order, and
/// torsion-free ([L]A == identity). Stricter than what ed25519_verify() requires of a key.
bool ed25519_public_key_valid(const uint8_t public_key[32]);

/// Single verification with the cofactored equation [8][S]B == [8]R + [8][k]A,
/// k = SHA-512(R || A || M) mod L. Rejects S >= L, non-canonical A or R, and A of small order.
/// Backends: kAuto (fastest available), kPortable, kAvx512 (AVX-512 IFMA), kAvx2 (runs the
/// portable code), kOpenSSL (OpenSSL's EVP verifier under Assay's rules: an acceptance stands
/// only if the key passes Assay's key checks, a rejection is re-checked with the cofactored
/// equation, so its verdicts equal the other backends'). An unsupported backend falls back to
/// kPortable. Public keys are looked up in (and, on the batch path, entered into) a bounded
/// process-wide cache of decoded keys with precomputed multiples
/// (kEd25519KeyCacheDefaultEntries, docs/verification-ed25519.md).
/// Never throws; null pointers (or a null message with a non-zero length) give false.
bool ed25519_verify(const Ed25519Job& job, Backend backend = Backend::kAuto);

/// Batch verification: verdicts[i] = 1 if jobs[i] is valid else 0. Each verdict equals
/// ed25519_verify(jobs[i], backend) (random linear combination with 128-bit CSPRNG scalars, one
/// multi-scalar multiplication per chunk of at most kEd25519MaxBatch items (a longer span is split
/// into equal chunks), bisection on failure).
/// Requires verdicts.size() == jobs.size(); if not, only the common prefix is written and the
/// remaining verdicts are set to 0.
void ed25519_verify_batch(std::span<const Ed25519Job> jobs, std::span<uint8_t> verdicts,
                          Backend backend = Backend::kAuto);

/// Independent verification: verdicts[i] = ed25519_verify(jobs[i], backend), each from its own
/// single equation, never combined with another job's (so one bad signature costs one equation
/// and changes nothing for the others). The AVX-512 engine evaluates 8 equations per pass, one
/// per vector lane, which makes a verification about as cheap as in a batch of 8; meant for
/// signatures likely to be bad (a suspect key's), where a batch would fail and bisect.
/// Same size rule as ed25519_verify_batch.
void ed25519_verify_each(std::span<const Ed25519Job> jobs, std::span<uint8_t> verdicts,
                         Backend backend = Backend::kAuto);

/// Largest batch the batch verifier processes in one multi-scalar multiplication (callers may
/// pass more; it splits).
inline constexpr size_t kEd25519MaxBatch = 256;

/// Test/simulator helper: generates an Ed25519 key pair (OpenSSL EVP). Returns false on failure.
bool ed25519_keypair(uint8_t public_key[32], uint8_t private_key[32]);

/// Test/simulator helper: RFC 8032 Ed25519 signature of msg (OpenSSL EVP). Returns false on
/// failure.
bool ed25519_sign(const uint8_t private_key[32], const uint8_t* msg, size_t len,
                  uint8_t signature[64]);

namespace detail {
/// Per-thread operation counters of the Ed25519 verifier (for tests: failure isolation).
struct Ed25519Counters {
  uint64_t single_verifications = 0;  ///< Single (non-batch) equation evaluations.
  uint64_t batch_equations = 0;       ///< Batch (multi-scalar) equation evaluations.
};
/// Counters of the calling thread since it started.
Ed25519Counters ed25519_thread_counters();

/// Keys the process-wide Ed25519 key cache holds by default (about 5.3 KiB each: the decoded
/// key and 32 precomputed multiples; 8,192 keys = 43 MiB at most).
inline constexpr size_t kEd25519KeyCacheDefaultEntries = 8192;

/// State of the process-wide key cache.
struct Ed25519KeyCacheStats {
  size_t capacity = 0;         ///< most keys it holds
  size_t entries = 0;          ///< keys it holds now
  size_t bytes_per_entry = 0;  ///< memory of one cached key (without map overhead)
  uint64_t hits = 0;           ///< lookups that found the key
  uint64_t misses = 0;         ///< lookups that did not
  uint64_t evictions = 0;      ///< keys evicted to make room
};
/// OpenSSL's own verdict (EVP_DigestVerify, cofactorless, no key checks): the reference of the
/// differential tests. Not Assay's verdict on crafted torsion inputs.
bool ed25519_verify_openssl_raw(const Ed25519Job& job);
/// The cache's state (sums over its shards).
Ed25519KeyCacheStats ed25519_key_cache_stats();
/// Empties the cache and sets its capacity in keys (0 disables it). For tests and benchmarks.
void ed25519_key_cache_set_capacity(size_t entries);
}  // namespace detail

}  // namespace assay::crypto
