#include "crypto/sha256_many.hpp"

#include <intel-ipsec-mb.h>

#include <cstring>
#include <memory>

#include "crypto/cpu.hpp"
#include "crypto/sha256.hpp"

namespace assay::crypto {
namespace {

struct MgrDeleter {
  void operator()(IMB_MGR* m) const { free_mb_mgr(m); }
};

// The vector-lane manager: AVX-512's 16 lanes, else AVX2's 8, else SSE (null if intel-ipsec-mb
// cannot be initialised).
IMB_MGR* wide_manager() {
  thread_local std::unique_ptr<IMB_MGR, MgrDeleter> mgr = [] {
    std::unique_ptr<IMB_MGR, MgrDeleter> m(alloc_mb_mgr(0));
    if (!m) return m;
    if (backend_supported(Backend::kAvx512))
      init_mb_mgr_avx512(m.get());
    else if (backend_supported(Backend::kAvx2))
      init_mb_mgr_avx2(m.get());
    else
      init_mb_mgr_sse(m.get());
    if (imb_get_errno(m.get()) != 0) m.reset();
    return m;
  }();
  return mgr.get();
}

// The two-lane manager: intel-ipsec-mb's SSE manager runs SHA-256 jobs in two interleaved
// SHA-NI lanes where the CPU has SHA extensions (its AVX-512 manager uses 16 vector lanes and
// only pays off with many messages).
IMB_MGR* pair_manager() {
  thread_local std::unique_ptr<IMB_MGR, MgrDeleter> mgr = [] {
    std::unique_ptr<IMB_MGR, MgrDeleter> m(alloc_mb_mgr(0));
    if (!m) return m;
    init_mb_mgr_sse(m.get());
    if (imb_get_errno(m.get()) != 0) m.reset();
    return m;
  }();
  return mgr.get();
}

// These managers only ever run SHA-256 jobs built here, so a reused job slot holds nothing but
// fields this function sets: no memset, and jobs are submitted without intel-ipsec-mb's
// parameter checks (the parameters below are valid by construction; the tests compare every
// length class with OpenSSL).
void fill_job(IMB_JOB* job, std::span<const uint8_t> msg, std::array<uint8_t, 32>& out) {
  static constexpr uint8_t kNothing[1] = {0};
  job->cipher_mode = IMB_CIPHER_NULL;
  job->cipher_direction = IMB_DIR_ENCRYPT;
  job->chain_order = IMB_ORDER_HASH_CIPHER;
  job->hash_alg = IMB_AUTH_SHA_256;
  job->src = msg.empty() ? kNothing : msg.data();
  job->dst = nullptr;
  job->cipher_start_src_offset_in_bytes = 0;
  job->msg_len_to_cipher_in_bytes = 0;
  job->hash_start_src_offset_in_bytes = 0;
  job->msg_len_to_hash_in_bytes = msg.size();
  job->auth_tag_output = out.data();
  job->auth_tag_output_len_in_bytes = 32;
}

void openssl_one(std::span<const uint8_t> msg, std::array<uint8_t, 32>& out) {
  out = sha256(msg);
}

}  // namespace

void sha256_many(std::span<const std::span<const uint8_t>> messages,
                 std::span<std::array<uint8_t, 32>> digests) {
  const size_t n = std::min(messages.size(), digests.size());
  // The SHA-NI lanes of the SSE manager where the CPU has SHA extensions, except for 64 or more
  // messages on an AVX-512 CPU, where 16 vector lanes win (the rule of crypto/hmac_sha256.cpp).
  // Without AVX-512 the SHA-NI lanes win at any count: on an AMD EPYC without AVX-512 or GFNI
  // (whose AVX2 manager then has no SHA-NI code) 1.50-1.75x the AVX2 lanes' rate for 720-byte
  // messages, 1.41-1.65x for 65-byte ones (bench/RESULTS.md, "Provenance v2, session 4").
  const bool wide = !cpu_features().sha_ni || (n >= 64 && backend_supported(Backend::kAvx512));
  IMB_MGR* mgr = wide ? wide_manager() : pair_manager();
  if (mgr == nullptr) {
    for (size_t i = 0; i < n; ++i) openssl_one(messages[i], digests[i]);
    return;
  }
  size_t failed = 0;
  auto drain = [&](IMB_JOB* done) {
    for (; done != nullptr; done = IMB_GET_COMPLETED_JOB(mgr))
      if (done->status != IMB_STATUS_COMPLETED) ++failed;
  };
  for (size_t i = 0; i < n; ++i) {
    fill_job(IMB_GET_NEXT_JOB(mgr), messages[i], digests[i]);
    drain(IMB_SUBMIT_JOB_NOCHECK(mgr));
  }
  IMB_JOB* done;
  while ((done = IMB_FLUSH_JOB(mgr)) != nullptr) drain(done);
  if (failed > 0)  // never seen; recompute everything the reference way rather than guess
    for (size_t i = 0; i < n; ++i) openssl_one(messages[i], digests[i]);
}

bool sha256_two_interleaved() {
  const IMB_MGR* mgr = pair_manager();
  return mgr != nullptr && (mgr->features & IMB_FEATURE_SHANI) != 0;
}

void sha256_two(std::span<const uint8_t> a, std::span<const uint8_t> b,
                std::array<uint8_t, 32>& da, std::array<uint8_t, 32>& db) {
  IMB_MGR* mgr = pair_manager();
  if (mgr == nullptr) {
    openssl_one(a, da);
    openssl_one(b, db);
    return;
  }
  int completed = 0;
  bool failed = false;
  auto drain = [&](IMB_JOB* done) {
    for (; done != nullptr; done = IMB_GET_COMPLETED_JOB(mgr)) {
      ++completed;
      failed = failed || done->status != IMB_STATUS_COMPLETED;
    }
  };
  fill_job(IMB_GET_NEXT_JOB(mgr), a, da);
  drain(IMB_SUBMIT_JOB_NOCHECK(mgr));
  fill_job(IMB_GET_NEXT_JOB(mgr), b, db);
  drain(IMB_SUBMIT_JOB_NOCHECK(mgr));
  IMB_JOB* done;
  while ((done = IMB_FLUSH_JOB(mgr)) != nullptr) drain(done);
  if (failed || completed != 2) {  // never seen; recompute the reference way rather than guess
    openssl_one(a, da);
    openssl_one(b, db);
  }
}

}  // namespace assay::crypto
