/// \file Ed25519 verification: API, pre-checks, single and batch equations, bisection, and the
/// OpenSSL reference path. Arithmetic lives in ed25519_internal.hpp (portable, radix 2^51) and
/// ed25519_avx512.cpp (8-lane AVX-512 IFMA, radix 2^51 with 52-bit multiplier inputs).
#include "crypto/ed25519.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/ed25519_batch.hpp"
#include "crypto/ed25519_internal.hpp"

namespace assay::crypto {

using namespace ed25519_internal;

namespace {

thread_local detail::Ed25519Counters t_counters;

// ----------------------------------------------------------------------------------------------
// SHA-512(R || A || M) mod L.
// ----------------------------------------------------------------------------------------------
const EVP_MD* sha512_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA512", nullptr);
    return m ? m : EVP_sha512();
  }();
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

bool challenge_scalar(Sc& k, const uint8_t r[32], const uint8_t a[32], const uint8_t* m,
                      size_t len) {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  uint8_t h[64];
  unsigned int hl = 0;
  static const uint8_t kEmpty = 0;
  if (EVP_DigestInit_ex(ctx.get(), sha512_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), r, 32) != 1 || EVP_DigestUpdate(ctx.get(), a, 32) != 1 ||
      EVP_DigestUpdate(ctx.get(), len ? m : &kEmpty, len) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), h, &hl) != 1 || hl != 64) {
    return false;
  }
  k = sc_reduce64(h);
  return true;
}

// ----------------------------------------------------------------------------------------------
// Base point and its odd multiples (w = 8: B, 3B, ..., 127B) in cached form.
// ----------------------------------------------------------------------------------------------
constexpr int kBaseW = 8;
constexpr int kBaseTable = 1 << (kBaseW - 2);

struct BaseTables {
  GeP3 B;
  GeCached odd[kBaseTable];
};

const BaseTables& base_tables() {
  static const BaseTables t = [] {
    BaseTables bt{};
    uint8_t enc[32];
    enc[0] = 0x58;
    for (int i = 1; i < 32; ++i) enc[i] = 0x66;
    ge_decode(bt.B, enc);
    GeP3 b2 = ge_p1p1_to_p3(ge_p3_dbl(bt.B));
    GeCached b2c = ge_p3_to_cached(b2);
    GeP3 cur = bt.B;
    bt.odd[0] = ge_p3_to_cached(cur);
    for (int i = 1; i < kBaseTable; ++i) {
      cur = ge_p1p1_to_p3(ge_add(cur, b2c));
      bt.odd[i] = ge_p3_to_cached(cur);
    }
    return bt;
  }();
  return t;
}

// ----------------------------------------------------------------------------------------------
// Straus / interleaved wNAF multi-scalar multiplication (portable).
// ----------------------------------------------------------------------------------------------
struct StrausScratch {
  std::vector<int8_t> naf_t;       // [pos * n + i]
  std::vector<GeCached> tables;    // concatenated odd-multiple tables
  std::vector<uint32_t> table_at;  // start of term i's table
  std::vector<const GeCached*> tab;  // term i's table (built or cached)
  int8_t naf[256];
};

/// Odd multiples P, 3P, ..., (2^(w-1)-1)P in cached form.
void odd_multiples(GeCached* out, const GeP3& p, int w) {
  out[0] = ge_p3_to_cached(p);
  const int n = 1 << (w - 2);
  if (n == 1) return;
  GeCached p2 = ge_p3_to_cached(ge_p1p1_to_p3(ge_p3_dbl(p)));
  GeP3 cur = p;
  for (int i = 1; i < n; ++i) {
    cur = ge_p1p1_to_p3(ge_add(cur, p2));
    out[i] = ge_p3_to_cached(cur);
  }
}

}  // namespace

namespace ed25519_batch {

GeP2 msm_portable(const Sc* base_scalar, std::span<const MsmTerm> terms) {
  thread_local StrausScratch s;
  const size_t n = terms.size() + 1;  // slot n-1 is the base point
  s.naf_t.assign(256 * n, 0);
  s.table_at.resize(n);
  size_t table_size = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    s.table_at[i] = (uint32_t)table_size;
    table_size += size_t{1} << (terms[i].w - 2);
  }
  s.tables.resize(table_size);
  s.tab.resize(n);
  int top = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    const int t = sc_wnaf(s.naf, terms[i].scalar, terms[i].w);
    top = std::max(top, t);
    for (int p = 0; p < t; ++p) s.naf_t[p * n + i] = s.naf[p];
    if (terms[i].table != nullptr) {
      s.tab[i] = terms[i].table;  // a cached key's table (window terms[i].w)
    } else {
      s.tab[i] = &s.tables[s.table_at[i]];
      if (t > 0) odd_multiples(&s.tables[s.table_at[i]], *terms[i].point, terms[i].w);
    }
  }
  const BaseTables& bt = base_tables();
  if (base_scalar) {
    const int t = sc_wnaf(s.naf, *base_scalar, kBaseW);
    top = std::max(top, t);
    for (int p = 0; p < t; ++p) s.naf_t[p * n + (n - 1)] = s.naf[p];
  }
  GeP2 r = ge_p2_identity();
  bool started = false;
  for (int pos = top - 1; pos >= 0; --pos) {
    const int8_t* row = &s.naf_t[pos * n];
    GeP1P1 t;
    bool have_t = false;
    if (started) {
      t = ge_p2_dbl(r);
      have_t = true;
    }
    for (size_t i = 0; i < n; ++i) {
      const int d = row[i];
      if (d == 0) continue;
      const GeCached* tab = (i + 1 == n) ? bt.odd : s.tab[i];
      const GeP3 u = have_t ? ge_p1p1_to_p3(t) : ge_identity();
      t = d > 0 ? ge_add(u, tab[d >> 1]) : ge_sub(u, tab[(-d) >> 1]);
      have_t = true;
    }
    if (have_t) {
      r = ge_p1p1_to_p2(t);
      started = true;
    }
  }
  return r;
}

const GeCached* base_odd_multiples() { return base_tables().odd; }

void all_multiples_carried(GeCached* out, const GeP3& p, int n) {
  const GeCached pc = ge_p3_to_cached(p);
  GeP3 cur = p;
  for (int i = 0; i < n; ++i) {
    if (i > 0) cur = ge_p1p1_to_p3(ge_add(cur, pc));
    out[i] = ge_p3_to_cached(cur);
    for (Fe* f : {&out[i].YplusX, &out[i].YminusX, &out[i].Z, &out[i].T2d}) {
      fe_carry(*f);
      fe_carry(*f);
    }
  }
}

GeP3 times_2_64(GeP3 p) {
  for (int d = 0; d < 64; ++d) p = ge_p1p1_to_p3(ge_p3_dbl(p));
  return p;
}

const GeCached* base_split_multiples(int i) {
  struct Split {
    GeCached t[4][kSplitEntries];
  };
  static const Split t = [] {
    Split sp{};
    GeP3 p = base_tables().B;
    for (int q = 0; q < 4; ++q) {
      all_multiples_carried(sp.t[q], p, kSplitEntries);
      p = times_2_64(p);
    }
    return sp;
  }();
  return t.t[i];
}

void single_many_portable(std::span<const SingleEq> eqs, GeP2* out) {
  for (size_t i = 0; i < eqs.size(); ++i) {
    const SingleEq& e = eqs[i];
    const MsmTerm terms[2] = {{e.neg_a, e.k, e.a_table != nullptr ? e.a_w : 5, e.a_table},
                              {e.neg_r, kScOne, 2}};
    out[i] = msm_portable(&e.s, std::span<const MsmTerm>(terms, 2));
  }
}

void decode_core_portable(const Fe* y, Fe* x, Fe* u, Fe* vxx, size_t n) {
  for (size_t i = 0; i < n; ++i) ge_decode_core(y[i], x[i], u[i], vxx[i]);
}

void odd_tables_portable(const GeP3* const* points, size_t n, int w, GeCached* const* out) {
  for (size_t i = 0; i < n; ++i) {
    odd_multiples(out[i], *points[i], w);
    // Limbs < 2^52, as the AVX-512 engine requires of every table.
    for (int e = 0; e < (1 << (w - 2)); ++e) {
      for (Fe* f : {&out[i][e].YplusX, &out[i][e].YminusX, &out[i][e].Z, &out[i][e].T2d}) {
        fe_carry(*f);
        fe_carry(*f);
      }
    }
  }
}

}  // namespace ed25519_batch

namespace {

using ed25519_batch::Engine;
using ed25519_batch::MsmFn;
using ed25519_batch::MsmTerm;

const Engine kPortableEngine = {
    &ed25519_batch::msm_portable,         &ed25519_batch::msm_portable,
    &ed25519_batch::decode_core_portable, &ed25519_batch::odd_tables_portable,
    &ed25519_batch::single_many_portable, false};

const Engine& select_engine(Backend backend) {
#if defined(__x86_64__)
  if ((backend == Backend::kAvx512 || backend == Backend::kAuto) &&
      backend_supported(Backend::kAvx512)) {
    if (const Engine* e = ed25519_batch::avx512_engine()) return *e;
  }
#endif
  (void)backend;
  return kPortableEngine;
}

// ----------------------------------------------------------------------------------------------
// Per-key cache: what does not change for a public key (its decoding, that it is not of small
// order, and the odd multiples of -A for a window of 8), shared by all threads.
// ----------------------------------------------------------------------------------------------
constexpr int kCacheW = 7;
constexpr int kCacheEntries = 1 << (kCacheW - 2);  // 32 odd multiples, 5 KiB

struct CachedKey {
  uint8_t enc[32];
  GeP3 neg_a;                     // -A
  GeCached table[kCacheEntries];  // (2j + 1)·(-A), limbs < 2^52
};

/// A bounded, sharded map from 32-byte encodings to cached keys. Lookups and insertions lock
/// one of kShards mutexes; entries are immutable and reference-counted, so a batch keeps using
/// an entry that is evicted meanwhile. Eviction: CLOCK (second chance) per shard.
class KeyCache {
 public:
  static constexpr size_t kShards = 16;

  std::shared_ptr<const CachedKey> find(const uint8_t enc[32]) {
    Shard& sh = shard(enc);
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.index.find(key_of(enc));
    if (it == sh.index.end()) {
      ++sh.misses;
      return nullptr;
    }
    Slot& slot = sh.slots[it->second];
    slot.referenced = true;
    ++sh.hits;
    return slot.entry;
  }

  void insert(std::shared_ptr<const CachedKey> e) {
    Shard& sh = shard(e->enc);
    std::lock_guard<std::mutex> lock(sh.mu);
    const size_t cap = per_shard_.load(std::memory_order_relaxed);
    if (cap == 0) return;
    const Key k = key_of(e->enc);
    if (sh.index.count(k) != 0) return;  // another thread was faster
    if (sh.slots.size() < cap) {
      sh.index.emplace(k, sh.slots.size());
      sh.slots.push_back(Slot{std::move(e), false});
      return;
    }
    // CLOCK: skip (and clear) referenced slots; evict the first unreferenced one.
    for (;;) {
      Slot& victim = sh.slots[sh.hand];
      if (victim.referenced) {
        victim.referenced = false;
        sh.hand = (sh.hand + 1) % sh.slots.size();
        continue;
      }
      sh.index.erase(key_of(victim.entry->enc));
      ++sh.evictions;
      sh.index.emplace(k, sh.hand);
      victim = Slot{std::move(e), false};
      sh.hand = (sh.hand + 1) % sh.slots.size();
      return;
    }
  }

  bool enabled() const { return per_shard_.load(std::memory_order_relaxed) != 0; }

  void set_capacity(size_t entries) {
    const size_t per = (entries + kShards - 1) / kShards;
    for (Shard& sh : shards_) {
      std::lock_guard<std::mutex> lock(sh.mu);
      sh.index.clear();
      sh.slots.clear();
      sh.hand = 0;
    }
    per_shard_.store(per, std::memory_order_relaxed);
  }

  detail::Ed25519KeyCacheStats stats() {
    detail::Ed25519KeyCacheStats st;
    st.capacity = per_shard_.load() * kShards;
    for (Shard& sh : shards_) {
      std::lock_guard<std::mutex> lock(sh.mu);
      st.entries += sh.slots.size();
      st.hits += sh.hits;
      st.misses += sh.misses;
      st.evictions += sh.evictions;
    }
    st.bytes_per_entry = sizeof(CachedKey);
    return st;
  }

 private:
  struct Slot {
    std::shared_ptr<const CachedKey> entry;
    bool referenced;
  };
  using Key = std::array<uint8_t, 32>;
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h;
      std::memcpy(&h, k.data() + 8, 8);  // encodings of public keys are uniformly distributed
      return static_cast<size_t>(h);
    }
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<Key, size_t, KeyHash> index;
    std::vector<Slot> slots;
    size_t hand = 0;
    uint64_t hits = 0, misses = 0, evictions = 0;
  };
  static Key key_of(const uint8_t enc[32]) {
    Key k;
    std::memcpy(k.data(), enc, 32);
    return k;
  }
  Shard& shard(const uint8_t enc[32]) {
    // Encodings of public keys are uniformly distributed; byte 1 picks the shard.
    return shards_[enc[1] % kShards];
  }
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> per_shard_{(detail::kEd25519KeyCacheDefaultEntries + kShards - 1) / kShards};
};

KeyCache& key_cache() {
  static KeyCache c;
  return c;
}

// ----------------------------------------------------------------------------------------------
// Split key tables for independent verification (ed25519_verify_each on engines with `split`):
// the multiples 1..16 of [2^(64 i)](-A), i = 0..3, so that [k](-A) needs 65 doublings, not 253.
// Built for a key that recurs (a suspect key under a forgery flood); a small FIFO-bounded cache.
// ----------------------------------------------------------------------------------------------
using ed25519_batch::kSplitEntries;

struct SplitKey {
  GeCached t[4][kSplitEntries];  // limbs < 2^52
  const GeCached* ptr[4];
};

class SplitKeyCache {
 public:
  /// Keys held at most (10 KiB each: 2.5 MiB).
  static constexpr size_t kCapacity = 256;

  std::shared_ptr<const SplitKey> find(const uint8_t enc[32]) {
    std::array<uint8_t, 32> k;
    std::memcpy(k.data(), enc, 32);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    return it == map_.end() ? nullptr : it->second;
  }
  void insert(const uint8_t enc[32], std::shared_ptr<const SplitKey> v) {
    std::array<uint8_t, 32> k;
    std::memcpy(k.data(), enc, 32);
    std::lock_guard<std::mutex> lock(mu_);
    if (!map_.emplace(k, std::move(v)).second) return;
    fifo_.push_back(k);
    if (fifo_.size() > kCapacity) {
      map_.erase(fifo_.front());
      fifo_.pop_front();
    }
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    map_.clear();
    fifo_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::array<uint8_t, 32>, std::shared_ptr<const SplitKey>> map_;
  std::deque<std::array<uint8_t, 32>> fifo_;
};

SplitKeyCache& split_cache() {
  static SplitKeyCache c;
  return c;
}

/// Split tables of -A (given as neg_a).
std::shared_ptr<const SplitKey> build_split_key(const GeP3& neg_a) {
  auto k = std::make_shared<SplitKey>();
  GeP3 p = neg_a;
  for (int q = 0; q < 4; ++q) {
    ed25519_batch::all_multiples_carried(k->t[q], p, kSplitEntries);
    k->ptr[q] = k->t[q];
    if (q < 3) p = ed25519_batch::times_2_64(p);
  }
  return k;
}

// ----------------------------------------------------------------------------------------------
// Pre-checks shared by single and batch verification.
// ----------------------------------------------------------------------------------------------
bool job_pointers_ok(const Ed25519Job& j) {
  return j.public_key && j.signature && (j.message || j.message_len == 0);
}

/// Decodes A and rejects small order. Stores -A.
bool prepare_key(GeP3& neg_a, const uint8_t pk[32]) {
  GeP3 a;
  if (!ge_decode(a, pk)) return false;
  if (ge_mul8_is_identity(ge_p3_to_p2(a))) return false;
  neg_a = ge_neg(a);
  return true;
}

/// [8]([S]B - [k]A - R) == identity, given -A (with its cached table, if any) and -R.
bool single_equation(MsmFn msm, const GeP3& neg_a, const GeCached* a_table, const GeP3& neg_r,
                     const Sc& s, const Sc& k) {
  ++t_counters.single_verifications;
  const MsmTerm terms[2] = {{&neg_a, k, a_table != nullptr ? kCacheW : 5, a_table},
                            {&neg_r, kScOne, 2}};
  GeP2 r = msm(&s, std::span<const MsmTerm>(terms, 2));
  return ge_mul8_is_identity(r);
}

// ----------------------------------------------------------------------------------------------
// OpenSSL reference path (cofactorless).
// ----------------------------------------------------------------------------------------------
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

bool openssl_verify_impl(const Ed25519Job& j) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, j.public_key, 32));
  if (!pkey) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  static const uint8_t kEmpty = 0;
  return EVP_DigestVerify(ctx.get(), j.signature, 64, j.message_len ? j.message : &kEmpty,
                          j.message_len) == 1;
}

/// OpenSSL verdict; a rejection leaves nothing on the thread's OpenSSL error queue (other code
/// on the same thread, e.g. TLS, must not see stale errors).
bool openssl_verify(const Ed25519Job& j) {
  const bool ok = openssl_verify_impl(j);
  if (!ok) ERR_clear_error();
  return ok;
}

bool single_verify(const Ed25519Job& job, const Engine& engine);

/// The kOpenSSL backend: OpenSSL decides, under Assay's verdict rules
/// (docs/verification-ed25519.md, "The openssl backend"). OpenSSL's EVP verifier is cofactorless
/// and accepts small-order keys, so on its own it disagrees with the other backends on crafted
/// torsion inputs. Hence:
///  - a signature OpenSSL accepts is valid iff the key also passes Assay's key rules (canonical,
///    not of small order); R and S need no re-check (OpenSSL compares R with the canonical
///    encoding of [S]B - [k]A and refuses S >= L), and its cofactorless equation implies the
///    cofactored one;
///  - a signature OpenSSL rejects is re-checked with the cofactored equation (the portable
///    code), which accepts exactly the signatures whose R or A carry a torsion component.
/// Honest and randomly corrupted signatures never reach the re-check's acceptance, so its cost
/// is one portable single verification per rejected signature.
bool openssl_backend_verify(const Ed25519Job& j) {
  if (!job_pointers_ok(j)) return false;
  if (openssl_verify(j)) {
    if (key_cache().enabled() && key_cache().find(j.public_key)) return true;
    GeP3 neg_a;
    return prepare_key(neg_a, j.public_key);
  }
  return single_verify(j, kPortableEngine);
}

// ----------------------------------------------------------------------------------------------
// Batch verification of one chunk (<= kEd25519MaxBatch jobs).
// ----------------------------------------------------------------------------------------------
struct BatchItem {
  uint32_t job;
  uint32_t key;
  GeP3 neg_r;
  Sc s, k;
};

class ChunkVerifier {
 public:
  ChunkVerifier(std::span<const Ed25519Job> jobs, std::span<uint8_t> verdicts,
                const Engine& engine)
      : jobs_(jobs), verdicts_(verdicts), engine_(engine), msm_(engine.msm) {}

  void run() {
    const size_t n = jobs_.size();
    std::fill(verdicts_.begin(), verdicts_.end(), uint8_t{0});
    // Unique keys (identical 32 bytes -> one A term).
    std::vector<uint32_t> order;
    order.reserve(n);
    for (uint32_t i = 0; i < n; ++i)
      if (job_pointers_ok(jobs_[i])) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return std::memcmp(jobs_[a].public_key, jobs_[b].public_key, 32) < 0;
    });
    std::vector<int32_t> key_of(n, -1);
    // Distinct canonical keys, decoded in bulk.
    std::vector<uint32_t> first_of_key;  // job index of each distinct key's first occurrence
    for (size_t idx = 0; idx < order.size(); ++idx) {
      const uint32_t i = order[idx];
      if (idx > 0 && std::memcmp(jobs_[order[idx - 1]].public_key, jobs_[i].public_key, 32) == 0) {
        key_of[i] = key_of[order[idx - 1]];
        continue;
      }
      key_of[i] = -2;  // invalid unless decoded below
      if (fe_bytes_canonical(jobs_[i].public_key)) {
        key_of[i] = -3 - (int32_t)first_of_key.size();  // pending decode slot
        first_of_key.push_back(i);
      }
    }
    // Cached keys first; the others are decoded in bulk, and (cache enabled) their tables are
    // built and they enter the cache.
    std::vector<int32_t> slot_to_key(first_of_key.size(), -2);
    KeyCache& cache = key_cache();
    const bool caching = cache.enabled();
    std::vector<uint32_t> pending, pending_slot;
    for (size_t slot = 0; slot < first_of_key.size(); ++slot) {
      const uint8_t* enc = jobs_[first_of_key[slot]].public_key;
      std::shared_ptr<const CachedKey> hit = caching ? cache.find(enc) : nullptr;
      if (hit) {
        slot_to_key[slot] = (int32_t)keys_.size();
        keys_.push_back(hit->neg_a);
        key_tables_.push_back(hit->table);
        held_.push_back(std::move(hit));
      } else {
        pending.push_back(first_of_key[slot]);
        pending_slot.push_back((uint32_t)slot);
      }
    }
    std::vector<GeP3> decoded;
    std::vector<uint8_t> decoded_ok;
    decode_all(
        pending, [&](uint32_t i) { return jobs_[i].public_key; }, decoded, decoded_ok);
    std::vector<std::shared_ptr<CachedKey>> fresh;
    for (size_t k = 0; k < pending.size(); ++k) {
      if (!decoded_ok[k] || ge_mul8_is_identity(ge_p3_to_p2(decoded[k]))) continue;
      slot_to_key[pending_slot[k]] = (int32_t)keys_.size();
      keys_.push_back(ge_neg(decoded[k]));
      key_tables_.push_back(nullptr);
      if (caching) {
        auto e = std::make_shared<CachedKey>();
        std::memcpy(e->enc, jobs_[pending[k]].public_key, 32);
        e->neg_a = keys_.back();
        fresh.push_back(std::move(e));
        fresh_key_.push_back((uint32_t)(keys_.size() - 1));
      }
    }
    if (!fresh.empty()) {
      std::vector<const GeP3*> pts(fresh.size());
      std::vector<GeCached*> outs(fresh.size());
      for (size_t k = 0; k < fresh.size(); ++k) {
        pts[k] = &fresh[k]->neg_a;
        outs[k] = fresh[k]->table;
      }
      engine_.odd_tables(pts.data(), fresh.size(), kCacheW, outs.data());
      for (size_t k = 0; k < fresh.size(); ++k) {
        key_tables_[fresh_key_[k]] = fresh[k]->table;
        held_.push_back(fresh[k]);
        cache.insert(std::move(fresh[k]));
      }
    }
    for (uint32_t i = 0; i < n; ++i)
      if (key_of[i] <= -3) key_of[i] = slot_to_key[(size_t)(-3 - key_of[i])];
    // Signatures of items with a valid key: S < L, R canonical, then bulk-decode R.
    std::vector<uint32_t> with_r;
    for (uint32_t i = 0; i < n; ++i) {
      if (key_of[i] < 0) continue;
      if (!sc_bytes_canonical(jobs_[i].signature + 32)) continue;
      if (!fe_bytes_canonical(jobs_[i].signature)) continue;
      with_r.push_back(i);
    }
    decode_all(with_r, [&](uint32_t i) { return jobs_[i].signature; }, decoded, decoded_ok);
    items_.reserve(with_r.size());
    for (size_t slot = 0; slot < with_r.size(); ++slot) {
      if (!decoded_ok[slot]) continue;
      const uint32_t i = with_r[slot];
      BatchItem it;
      it.job = i;
      it.key = (uint32_t)key_of[i];
      it.neg_r = ge_neg(decoded[slot]);
      it.s = sc_load32(jobs_[i].signature + 32);
      if (!challenge_scalar(it.k, jobs_[i].signature, jobs_[i].public_key, jobs_[i].message,
                            jobs_[i].message_len)) {
        continue;
      }
      items_.push_back(it);
    }
    coef_.assign(keys_.size(), Sc{{0, 0, 0, 0}});
    key_used_.assign(keys_.size(), 0);
    std::vector<uint32_t> idx(items_.size());
    for (uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
    if (!idx.empty()) solve(idx, false);
  }

 private:
  /// Decodes the (canonical) encodings enc(i) for i in idx with the engine's bulk decoder.
  template <class Enc>
  void decode_all(const std::vector<uint32_t>& idx, Enc enc, std::vector<GeP3>& out,
                  std::vector<uint8_t>& ok) {
    const size_t m = idx.size();
    ys_.resize(m);
    xs_.resize(m);
    us_.resize(m);
    vxxs_.resize(m);
    for (size_t j = 0; j < m; ++j) ys_[j] = fe_frombytes(enc(idx[j]));
    if (m) engine_.decode_core(ys_.data(), xs_.data(), us_.data(), vxxs_.data(), m);
    out.resize(m);
    ok.resize(m);
    for (size_t j = 0; j < m; ++j)
      ok[j] = ge_decode_finish(out[j], enc(idx[j]), ys_[j], xs_[j], us_[j], vxxs_[j]) ? 1 : 0;
  }

  /// Returns true iff the whole group was accepted.
  bool solve(std::span<const uint32_t> group, bool known_to_fail) {
    if (group.size() == 1) {
      const BatchItem& it = items_[group[0]];
      const bool ok = single_equation(engine_.msm_single, keys_[it.key], key_tables_[it.key],
                                      it.neg_r, it.s, it.k);
      verdicts_[it.job] = ok ? 1 : 0;
      return ok;
    }
    if (!known_to_fail) {
      if (batch_equation(group)) {
        for (uint32_t g : group) verdicts_[items_[g].job] = 1;
        return true;
      }
    }
    const size_t mid = group.size() / 2;
    const bool left_ok = solve(group.subspan(0, mid), false);
    // The group failed, so if the left half passed the right half contains a forgery.
    solve(group.subspan(mid), left_ok);
    return false;
  }

  bool batch_equation(std::span<const uint32_t> group) {
    ++t_counters.batch_equations;
    const size_t m = group.size();
    z_.resize(16 * m);
    if (RAND_bytes(z_.data(), (int)z_.size()) != 1) {
      // No randomness: decide each item with the single equation (same verdicts, slower).
      bool all = true;
      for (uint32_t g : group) {
        const BatchItem& it = items_[g];
        const bool ok = single_equation(engine_.msm_single, keys_[it.key], key_tables_[it.key],
                                        it.neg_r, it.s, it.k);
        verdicts_[it.job] = ok ? 1 : 0;
        all = all && ok;
      }
      return all;
    }
    terms_.clear();
    touched_.clear();
    Sc sb{{0, 0, 0, 0}};
    for (size_t j = 0; j < m; ++j) {
      const BatchItem& it = items_[group[j]];
      Sc z{{0, 0, 0, 0}};
      std::memcpy(&z.v[0], &z_[16 * j], 8);
      std::memcpy(&z.v[1], &z_[16 * j + 8], 8);
      // Sums of Montgomery products z·s/R and z·k/R, converted once at the end.
      sb = sc_add(sb, sc_montmul(z, it.s));
      if (!key_used_[it.key]) {
        key_used_[it.key] = 1;
        coef_[it.key] = Sc{{0, 0, 0, 0}};
        touched_.push_back(it.key);
      }
      coef_[it.key] = sc_add(coef_[it.key], sc_montmul(z, it.k));
      terms_.push_back(MsmTerm{&it.neg_r, z, 5});
    }
    for (uint32_t key : touched_) {
      const GeCached* table = key_tables_[key];
      terms_.push_back(MsmTerm{&keys_[key], sc_montmul(coef_[key], kScR2),
                               table != nullptr ? kCacheW : 5, table});
      key_used_[key] = 0;
    }
    sb = sc_montmul(sb, kScR2);
    GeP2 r = msm_(&sb, terms_);
    return ge_mul8_is_identity(r);
  }

  std::span<const Ed25519Job> jobs_;
  std::span<uint8_t> verdicts_;
  const Engine& engine_;
  MsmFn msm_;
  std::vector<GeP3> keys_;
  std::vector<const GeCached*> key_tables_;  // per key: cached odd multiples (window 8) or null
  std::vector<std::shared_ptr<const CachedKey>> held_;  // keeps cache entries alive
  std::vector<uint32_t> fresh_key_;
  std::vector<BatchItem> items_;
  std::vector<Sc> coef_;
  std::vector<uint8_t> key_used_;
  std::vector<uint32_t> touched_;
  std::vector<MsmTerm> terms_;
  std::vector<uint8_t> z_;
  std::vector<Fe> ys_, xs_, us_, vxxs_;
};

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public API.
// ------------------------------------------------------------------------------------------------
bool ed25519_public_key_valid(const uint8_t public_key[32]) {
  if (!public_key) return false;
  GeP3 neg_a;
  if (!prepare_key(neg_a, public_key)) return false;
  const MsmTerm term{&neg_a, kL, 5};
  GeP2 r = ed25519_batch::msm_portable(nullptr, std::span<const MsmTerm>(&term, 1));
  return ge_p2_is_identity(r);
}

bool ed25519_verify(const Ed25519Job& job, Backend backend) {
  if (!job_pointers_ok(job)) return false;
  if (backend == Backend::kOpenSSL) return openssl_backend_verify(job);
  return single_verify(job, select_engine(backend));
}

namespace {

bool single_verify(const Ed25519Job& job, const Engine& engine) {
  // Same checks as prepare_key + prepare_sig, with A and R decompressed together.
  const uint8_t* pk = job.public_key;
  const uint8_t* r_enc = job.signature;
  if (!fe_bytes_canonical(pk) || !fe_bytes_canonical(r_enc)) return false;
  if (!sc_bytes_canonical(job.signature + 32)) return false;
  if (key_cache().enabled()) {
    // A cached key: decoded, not of small order, with its table; decompress R only.
    if (std::shared_ptr<const CachedKey> hit = key_cache().find(pk)) {
      const Fe yr = fe_frombytes(r_enc);
      Fe xr, ur, vr;
      engine.decode_core(&yr, &xr, &ur, &vr, 1);
      GeP3 r;
      if (!ge_decode_finish(r, r_enc, yr, xr, ur, vr)) return false;
      Sc k;
      if (!challenge_scalar(k, r_enc, pk, job.message, job.message_len)) return false;
      return single_equation(engine.msm_single, hit->neg_a, hit->table, ge_neg(r),
                             sc_load32(job.signature + 32), k);
    }
  }
  const Fe y[2] = {fe_frombytes(pk), fe_frombytes(r_enc)};
  Fe x[2], u[2], vxx[2];
  engine.decode_core(y, x, u, vxx, 2);
  GeP3 a, r;
  if (!ge_decode_finish(a, pk, y[0], x[0], u[0], vxx[0])) return false;
  if (ge_mul8_is_identity(ge_p3_to_p2(a))) return false;
  if (!ge_decode_finish(r, r_enc, y[1], x[1], u[1], vxx[1])) return false;
  Sc k;
  if (!challenge_scalar(k, r_enc, pk, job.message, job.message_len)) return false;
  return single_equation(engine.msm_single, ge_neg(a), nullptr, ge_neg(r),
                         sc_load32(job.signature + 32), k);
}

}  // namespace

void ed25519_verify_batch(std::span<const Ed25519Job> jobs, std::span<uint8_t> verdicts,
                          Backend backend) {
  const size_t n = std::min(jobs.size(), verdicts.size());
  for (size_t i = n; i < verdicts.size(); ++i) verdicts[i] = 0;
  if (backend == Backend::kOpenSSL) {
    for (size_t i = 0; i < n; ++i) verdicts[i] = openssl_backend_verify(jobs[i]) ? 1 : 0;
    return;
  }
  const Engine& engine = select_engine(backend);
  // Equal-sized chunks of at most kEd25519MaxBatch (257 jobs -> 129 + 128, not 256 + 1).
  const size_t chunks = (n + kEd25519MaxBatch - 1) / kEd25519MaxBatch;
  for (size_t c = 0, off = 0; c < chunks; ++c) {
    const size_t len = n / chunks + (c < n % chunks ? 1 : 0);
    const size_t start = off;
    off += len;
    if (len == 1) {  // nothing to combine: the single path is the cheaper one
      verdicts[start] = ed25519_verify(jobs[start], backend) ? 1 : 0;
      continue;
    }
    ChunkVerifier cv(jobs.subspan(start, len), verdicts.subspan(start, len), engine);
    cv.run();
  }
}

void ed25519_verify_each(std::span<const Ed25519Job> jobs, std::span<uint8_t> verdicts,
                         Backend backend) {
  const size_t n = std::min(jobs.size(), verdicts.size());
  for (size_t i = 0; i < verdicts.size(); ++i) verdicts[i] = 0;
  if (backend == Backend::kOpenSSL) {
    for (size_t i = 0; i < n; ++i) verdicts[i] = openssl_backend_verify(jobs[i]) ? 1 : 0;
    return;
  }
  const Engine& engine = select_engine(backend);
  const bool caching = key_cache().enabled();
  // Pre-checks and keys, as single_verify does; R decompressed in bulk.
  struct Item {
    uint32_t job;
    std::shared_ptr<const CachedKey> key;  // a cached key, or null (neg_a decoded here)
    GeP3 neg_a;
    GeP3 neg_r;
    std::shared_ptr<const SplitKey> split;  // split tables (a recurring key), or null
  };
  std::vector<Item> items;
  items.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const Ed25519Job& j = jobs[i];
    if (!job_pointers_ok(j)) continue;
    if (!fe_bytes_canonical(j.public_key) || !fe_bytes_canonical(j.signature)) continue;
    if (!sc_bytes_canonical(j.signature + 32)) continue;
    Item it{i, caching ? key_cache().find(j.public_key) : nullptr, {}, {}, nullptr};
    if (!it.key && !prepare_key(it.neg_a, j.public_key)) continue;
    items.push_back(std::move(it));
  }
  const size_t m = items.size();
  if (engine.split && caching && m > 1) {
    // Split tables for keys already holding them and for keys that recur in this call.
    std::vector<uint32_t> by_key(m);
    for (uint32_t k = 0; k < m; ++k) by_key[k] = k;
    auto pk = [&](uint32_t k) { return jobs[items[k].job].public_key; };
    std::sort(by_key.begin(), by_key.end(),
              [&](uint32_t a, uint32_t b) { return std::memcmp(pk(a), pk(b), 32) < 0; });
    for (size_t lo = 0; lo < m;) {
      size_t hi = lo + 1;
      while (hi < m && std::memcmp(pk(by_key[lo]), pk(by_key[hi]), 32) == 0) ++hi;
      std::shared_ptr<const SplitKey> sk = split_cache().find(pk(by_key[lo]));
      if (!sk && hi - lo >= 2) {
        const Item& first = items[by_key[lo]];
        sk = build_split_key(first.key ? first.key->neg_a : first.neg_a);
        split_cache().insert(pk(by_key[lo]), sk);
      }
      for (size_t q = lo; q < hi; ++q) items[by_key[q]].split = sk;
      lo = hi;
    }
  }
  std::vector<Fe> y(m), x(m), u(m), vxx(m);
  for (size_t k = 0; k < m; ++k) y[k] = fe_frombytes(jobs[items[k].job].signature);
  if (m) engine.decode_core(y.data(), x.data(), u.data(), vxx.data(), m);
  std::vector<ed25519_batch::SingleEq> eqs;
  std::vector<uint32_t> eq_job;
  eqs.reserve(m);
  eq_job.reserve(m);
  for (size_t k = 0; k < m; ++k) {
    Item& it = items[k];
    const Ed25519Job& j = jobs[it.job];
    GeP3 r;
    if (!ge_decode_finish(r, j.signature, y[k], x[k], u[k], vxx[k])) continue;
    it.neg_r = ge_neg(r);
    Sc ch;
    if (!challenge_scalar(ch, j.signature, j.public_key, j.message, j.message_len)) continue;
    const GeP3* neg_a = it.key ? &it.key->neg_a : &it.neg_a;
    eqs.push_back({neg_a, it.key ? it.key->table : nullptr, kCacheW, &it.neg_r,
                   sc_load32(j.signature + 32), ch, it.split ? it.split->ptr : nullptr});
    eq_job.push_back(it.job);
  }
  if (eqs.empty()) return;
  t_counters.single_verifications += eqs.size();
  std::vector<GeP2> out(eqs.size());
  engine.single_many(eqs, out.data());
  for (size_t k = 0; k < eqs.size(); ++k) verdicts[eq_job[k]] = ge_mul8_is_identity(out[k]) ? 1 : 0;
}

bool ed25519_keypair(uint8_t public_key[32], uint8_t private_key[32]) {
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (!pctx) return false;
  EVP_PKEY* pkey = nullptr;
  bool ok = EVP_PKEY_keygen_init(pctx) == 1 && EVP_PKEY_keygen(pctx, &pkey) == 1;
  EVP_PKEY_CTX_free(pctx);
  if (!ok) {
    ERR_clear_error();
    return false;
  }
  size_t pl = 32, sl = 32;
  ok = EVP_PKEY_get_raw_public_key(pkey, public_key, &pl) == 1 && pl == 32 &&
       EVP_PKEY_get_raw_private_key(pkey, private_key, &sl) == 1 && sl == 32;
  EVP_PKEY_free(pkey);
  if (!ok) ERR_clear_error();
  return ok;
}

bool ed25519_sign(const uint8_t private_key[32], const uint8_t* msg, size_t len,
                  uint8_t signature[64]) {
  if (!private_key || !signature || (!msg && len)) return false;
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, private_key, 32));
  if (!pkey) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  size_t sl = 64;
  static const uint8_t kEmpty = 0;
  const bool ok = EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
                  EVP_DigestSign(ctx.get(), signature, &sl, len ? msg : &kEmpty, len) == 1 &&
                  sl == 64;
  if (!ok) ERR_clear_error();
  return ok;
}

namespace detail {
Ed25519Counters ed25519_thread_counters() { return t_counters; }
Ed25519KeyCacheStats ed25519_key_cache_stats() {
  return key_cache().stats();
}
bool ed25519_verify_openssl_raw(const Ed25519Job& job) {
  return job_pointers_ok(job) && openssl_verify(job);
}
void ed25519_key_cache_set_capacity(size_t entries) {
  split_cache().clear();
  key_cache().set_capacity(entries);
}
}  // namespace detail

}  // namespace assay::crypto
