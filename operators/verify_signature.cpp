#include "operators/verify_signature.hpp"

#include "crypto/ecdsa.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hmac_sha256.hpp"
#include "engine/log.hpp"
#include "engine/tsan.hpp"
#include "registries/pipeline.hpp"
#include "schemas/reading_generated.h"

namespace assay::operators {

using engine::Batch;
using engine::RecordKind;
using engine::RejectCode;
using wire::SignatureVerdict;

namespace {

RejectCode code_of(SignatureVerdict v) {
  switch (v) {
    case SignatureVerdict::BadSignature:
      return RejectCode::kSignatureBad;
    case SignatureVerdict::UnknownSensor:
      return RejectCode::kUnknownSensor;
    case SignatureVerdict::UnknownKey:
      return RejectCode::kUnknownKey;
    case SignatureVerdict::KeyRevoked:
      return RejectCode::kKeyRevoked;
    case SignatureVerdict::KeyNotValidAtTime:
      return RejectCode::kKeyNotValidAtTime;
    case SignatureVerdict::AlgorithmNotAllowed:
      return RejectCode::kAlgorithmNotAllowed;
    case SignatureVerdict::Malformed:
      return RejectCode::kSignatureMalformed;
    case SignatureVerdict::Unsigned:
      return RejectCode::kUnsigned;
    case SignatureVerdict::Throttled:
      return RejectCode::kSignatureThrottled;
    default:
      return RejectCode::kNone;
  }
}

// The ECDSA algorithms verified through crypto/ecdsa.hpp (every one but EcdsaP256Sha256, which
// has its own per-key-table path), with their curve and hash.
struct EcAlg {
  wire::SignatureAlg alg;
  crypto::EcdsaCurve curve;
  crypto::EcdsaHash hash;
};
constexpr EcAlg kEcAlgs[] = {
    {wire::SignatureAlg::EcdsaP384Sha384, crypto::EcdsaCurve::kP384, crypto::EcdsaHash::kSha384},
    {wire::SignatureAlg::EcdsaP384Sha256, crypto::EcdsaCurve::kP384, crypto::EcdsaHash::kSha256},
    {wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256, crypto::EcdsaCurve::kBrainpoolP256r1,
     crypto::EcdsaHash::kSha256},
    {wire::SignatureAlg::EcdsaBrainpoolP384r1Sha384, crypto::EcdsaCurve::kBrainpoolP384r1,
     crypto::EcdsaHash::kSha384},
    {wire::SignatureAlg::EcdsaBrainpoolP384r1Sha256, crypto::EcdsaCurve::kBrainpoolP384r1,
     crypto::EcdsaHash::kSha256},
};
constexpr size_t kEcAlgCount = std::size(kEcAlgs);

// Index in kEcAlgs, or kEcAlgCount.
size_t ec_alg_index(wire::SignatureAlg alg) {
  for (size_t i = 0; i < kEcAlgCount; ++i)
    if (kEcAlgs[i].alg == alg) return i;
  return kEcAlgCount;
}

// Length of a raw (P1363 / 64-byte / MAC) signature of `alg`; 0 if unknown.
size_t expected_sig_len(wire::SignatureAlg alg) {
  switch (alg) {
    case wire::SignatureAlg::HmacSha256:
      return 32;
    case wire::SignatureAlg::Ed25519:
    case wire::SignatureAlg::EcdsaP256Sha256:
    case wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256:
      return 64;
    case wire::SignatureAlg::EcdsaP384Sha384:
    case wire::SignatureAlg::EcdsaP384Sha256:
    case wire::SignatureAlg::EcdsaBrainpoolP384r1Sha384:
    case wire::SignatureAlg::EcdsaBrainpoolP384r1Sha256:
      return 96;
  }
  return 0;
}

}  // namespace

VerifySignature::VerifySignature(VerifySignatureConfig config) : config_(std::move(config)) {
  if (!config_.identity) throw std::invalid_argument("verify_signature needs an identity registry");
}

void VerifySignature::process(Batch& b, engine::OperatorState*,
                              engine::OperatorContext& ctx) const {
  const auto reg = config_.identity->current();
  // One verdict per frame; rows of a frame share it. Frames are visited once, in row order.
  const uint32_t nframes = static_cast<uint32_t>(b.frames.size());
  std::vector<SignatureVerdict> verdict(nframes, SignatureVerdict::NotChecked);
  std::vector<uint8_t> seen(nframes, 0);

  std::vector<crypto::Ed25519Job> ed, ed_suspect;
  std::vector<const registries::SensorKey*> ed_key, ed_suspect_key;
  std::vector<uint32_t> ed_suspect_f;
  std::vector<const registries::SensorKey*> ec_key, hm_key;
  std::vector<crypto::EcdsaP256Job> ec;
  std::vector<crypto::HmacSha256Job> hm;
  std::vector<uint32_t> ed_f, ec_f, hm_f;
  // The other ECDSA algorithms, one batch list per algorithm (kEcAlgs order).
  std::array<std::vector<crypto::EcdsaJob>, kEcAlgCount> gx;
  std::array<std::vector<uint32_t>, kEcAlgCount> gx_f;
  std::array<std::vector<const registries::SensorKey*>, kEcAlgCount> gx_key;

  for (uint32_t r : b.sel) {
    const uint32_t f = b.row_frame[r];
    if (seen[f]) continue;
    seen[f] = 1;
    const RecordKind kind = b.frames[f].kind;
    if (kind == RecordKind::kReading || kind == RecordKind::kReadingBatch) {
      verdict[f] = SignatureVerdict::Unsigned;
      continue;
    }
    const engine::Frame& env = b.frames[f];  // the envelope, decoded once by decode
    const wire::Reading* first = b.row_reading[r];
    const auto* sensor = reg->find_sensor(first->sensor_id()->string_view());
    if (sensor == nullptr) {
      verdict[f] = SignatureVerdict::UnknownSensor;
      continue;
    }
    const auto* key = reg->find_key(env.key_id);
    if (key == nullptr) {
      verdict[f] = SignatureVerdict::UnknownKey;
      continue;
    }
    // Every reading under the signature must belong to the key's sensor and fall inside the
    // key's validity window.
    bool mismatch = false, out_of_window = false;
    for (uint32_t rr = r; rr < b.row_count() && b.row_frame[rr] == f; ++rr) {
      const wire::Reading* rd = b.row_reading[rr];
      if (rd->sensor_id()->string_view() != key->sensor_id) mismatch = true;
      if (rd->time_ns() < key->valid_from_ns || rd->time_ns() > key->valid_until_ns)
        out_of_window = true;
    }
    if (mismatch) {
      verdict[f] = SignatureVerdict::Malformed;
      continue;
    }
    if (static_cast<wire::SignatureAlg>(env.alg) != key->alg) {
      verdict[f] = SignatureVerdict::AlgorithmNotAllowed;
      continue;
    }
    if (key->revoked) {
      verdict[f] = SignatureVerdict::KeyRevoked;
      continue;
    }
    // Raw signatures only (input formats decode DER to r‖s): a fixed size per algorithm.
    if (env.signature.size() != expected_sig_len(key->alg)) {
      verdict[f] = SignatureVerdict::Malformed;
      continue;
    }
    if (out_of_window) {
      verdict[f] = SignatureVerdict::KeyNotValidAtTime;
      continue;
    }
    const auto body = env.signed_bytes;
    // A key that recently produced bad signatures is suspect: its Ed25519 signatures are
    // verified independently (crypto::ed25519_verify_each), outside the shared batch, so a forger's
    // bad signatures cannot make an honest batch fail and bisect. Every record is verified:
    // suspicion chooses only the path, and both paths give the exact verdict of the signature, so
    // the verdict never depends on timing, thread count, batch size or which batches ran first.
    const bool suspect = key->health->strikes.load(std::memory_order_relaxed) > 0;
    switch (key->alg) {
      case wire::SignatureAlg::Ed25519:
        if (suspect) {
          ed_suspect.push_back(
              {key->ed25519.data(), env.signature.data(), body.data(), body.size()});
          ed_suspect_f.push_back(f);
          ed_suspect_key.push_back(key);
        } else {
          ed.push_back({key->ed25519.data(), env.signature.data(), body.data(), body.size()});
          ed_f.push_back(f);
          ed_key.push_back(key);
        }
        break;
      case wire::SignatureAlg::EcdsaP256Sha256:
        ec.push_back(
            {&*key->ecdsa, env.signature.data(), env.signature.size(), body.data(), body.size()});
        ec_f.push_back(f);
        ec_key.push_back(key);
        break;
      case wire::SignatureAlg::HmacSha256:
        hm.push_back(
            {&*key->hmac, env.signature.data(), env.signature.size(), body.data(), body.size()});
        hm_f.push_back(f);
        hm_key.push_back(key);
        break;
      default: {
        const size_t gi = ec_alg_index(key->alg);
        if (gi == kEcAlgCount || !key->ec) {  // an algorithm this operator cannot verify
          verdict[f] = SignatureVerdict::AlgorithmNotAllowed;
          break;
        }
        crypto::EcdsaJob job{
            &*key->ec,
            env.signature.data(),
            env.signature.size(),
            crypto::EcdsaSignatureFormat::kP1363,
            body.data(),
            body.size()};
        job.hash = kEcAlgs[gi].hash;
        gx[gi].push_back(job);
        gx_f[gi].push_back(f);
        gx_key[gi].push_back(key);
        break;
      }
    }
  }

  // Crypto in chunks, spread over cores.
  std::vector<uint8_t> ed_ok(ed.size()), ec_ok(ec.size()), hm_ok(hm.size()),
      ed_suspect_ok(ed_suspect.size());
  const size_t chunk = config_.chunk;
  const size_t ned = (ed.size() + chunk - 1) / chunk, nec = (ec.size() + chunk - 1) / chunk,
               nhm = (hm.size() + chunk - 1) / chunk;
  const size_t nsus = (ed_suspect.size() + 31) / 32;
  // The other ECDSA lists (kEcAlgs): one task per chunk of one list.
  struct GxTask {
    const std::vector<crypto::EcdsaJob>* jobs;
    std::vector<uint8_t>* ok;
    crypto::EcdsaCurve curve;
    size_t start;
  };
  std::array<std::vector<uint8_t>, kEcAlgCount> gx_ok;
  std::vector<GxTask> gx_tasks;
  for (size_t g = 0; g < kEcAlgCount; ++g) {
    gx_ok[g].resize(gx[g].size());
    for (size_t s = 0; s < gx[g].size(); s += chunk)
      gx_tasks.push_back({&gx[g], &gx_ok[g], kEcAlgs[g].curve, s});
  }
  const size_t ngx = gx_tasks.size();
  engine::tsan::parallel_for(ned + nec + nhm + nsus + ngx, [&](size_t t) {
    if (t >= ned + nec + nhm + nsus) {
      const GxTask& g = gx_tasks[t - ned - nec - nhm - nsus];
      const size_t n = std::min(chunk, g.jobs->size() - g.start);
      crypto::ecdsa_verify_batch(g.curve, {g.jobs->data() + g.start, n},
                                 {g.ok->data() + g.start, n}, config_.backend);
    } else if (t >= ned + nec + nhm) {
      const size_t s = (t - ned - nec - nhm) * 32, e = std::min(ed_suspect.size(), s + 32);
      crypto::ed25519_verify_each({ed_suspect.data() + s, e - s}, {ed_suspect_ok.data() + s, e - s},
                                  config_.backend);
    } else if (t < ned) {
      const size_t s = t * chunk, n = std::min(chunk, ed.size() - s);
      crypto::ed25519_verify_batch({ed.data() + s, n}, {ed_ok.data() + s, n}, config_.backend);
    } else if (t < ned + nec) {
      const size_t s = (t - ned) * chunk, n = std::min(chunk, ec.size() - s);
      crypto::ecdsa_p256_verify_batch({ec.data() + s, n}, {ec_ok.data() + s, n}, config_.backend);
    } else {
      const size_t s = (t - ned - nec) * chunk, n = std::min(chunk, hm.size() - s);
      crypto::hmac_sha256_verify_batch({hm.data() + s, n}, {hm_ok.data() + s, n}, config_.backend);
    }
  });
  auto apply = [&](const std::vector<uint32_t>& frames, const std::vector<uint8_t>& ok) {
    for (size_t i = 0; i < frames.size(); ++i)
      verdict[frames[i]] = ok[i] ? SignatureVerdict::Valid : SignatureVerdict::BadSignature;
  };
  apply(ed_f, ed_ok);
  apply(ed_suspect_f, ed_suspect_ok);
  // Strikes: a bad signature makes the key suspect; good ones slowly clear it.
  auto strike = [](const std::vector<const registries::SensorKey*>& keys,
                   const std::vector<uint8_t>& ok) {
    for (size_t i = 0; i < keys.size(); ++i) {
      std::atomic<int32_t>& s = keys[i]->health->strikes;
      int32_t v = s.load(std::memory_order_relaxed);
      if (!ok[i])
        s.store(std::min(v + 4, 64), std::memory_order_relaxed);
      else if (v > 0)
        s.store(v - 1, std::memory_order_relaxed);
    }
  };
  strike(ed_key, ed_ok);
  strike(ed_suspect_key, ed_suspect_ok);
  strike(ec_key, ec_ok);
  strike(hm_key, hm_ok);
  apply(ec_f, ec_ok);
  apply(hm_f, hm_ok);
  for (size_t g = 0; g < kEcAlgCount; ++g) {
    strike(gx_key[g], gx_ok[g]);
    apply(gx_f[g], gx_ok[g]);
  }

  for (uint32_t r : b.sel) {
    const SignatureVerdict v = verdict[b.row_frame[r]];
    b.row_signature[r] = static_cast<uint8_t>(v);
    if (v == SignatureVerdict::Valid) continue;
    if (v == SignatureVerdict::Unsigned && config_.allow_unsigned) continue;
    b.reject_row(r, code_of(v), ctx.stage);
  }
}

std::unique_ptr<engine::Operator> VerifySignature::from_config(const engine::ConfigNode& c,
                                                               engine::BuildContext& ctx) {
  VerifySignatureConfig cfg;
  cfg.identity = registries::identity_store_for(c, ctx);
  if (!cfg.identity)
    c.fail(
        "verify_signature needs `registry` (a file), `registry_topic`, or both, or the "
        "pipeline's `registries.identity`");
  if (auto bn = c.maybe("backend")) {
    if (!crypto::parse_backend(bn->as_string(), cfg.backend))
      bn->fail("unknown backend (auto, openssl, portable, avx2, avx512)");
    if (!crypto::backend_supported(cfg.backend))
      bn->fail("this CPU does not support backend '" + bn->as_string() + "'");
  }
  cfg.allow_unsigned = c.get_bool("allow_unsigned", false);
  cfg.chunk = static_cast<size_t>(c.get_int("chunk", 256, 1, 4096));
  // Deprecated (no record is throttled any more): still accepted so existing configs load.
  cfg.suspect_key_rate = c.get_double("suspect_key_rate", 0);
  cfg.suspect_key_burst = c.get_double("suspect_key_burst", 50);
  if (cfg.suspect_key_rate < 0 || cfg.suspect_key_burst < 1)
    c.fail("suspect_key_rate must be >= 0 and suspect_key_burst >= 1");
  return std::make_unique<VerifySignature>(std::move(cfg));
}

}  // namespace assay::operators
