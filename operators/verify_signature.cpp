#include "operators/verify_signature.hpp"

#include <sys/stat.h>
#include <tbb/parallel_for.h>

#include <chrono>

#include "crypto/ecdsa_p256.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hmac_sha256.hpp"
#include "engine/files.hpp"
#include "engine/log.hpp"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"

namespace assay::operators {

using engine::Batch;
using engine::RecordKind;
using engine::RejectCode;
using wire::SignatureVerdict;

namespace {

using engine::file_mtime_ns;

std::shared_ptr<const registries::IdentityRegistry> load_logged(
    const std::string& path, registries::RegistryLoadReport& report) {
  auto reg = registries::load_identity_registry(path, report);
  for (const std::string& r : report.refused)
    engine::log_error("identity_registry", "entry refused", {{"detail", r}});
  engine::log_info("identity_registry", "loaded",
                   {{"path", path},
                    {"sensors", std::to_string(report.sensors)},
                    {"keys", std::to_string(report.keys)},
                    {"refused", std::to_string(report.refused.size())}});
  return reg;
}

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

size_t expected_sig_len(wire::SignatureAlg alg) {
  return alg == wire::SignatureAlg::HmacSha256 ? 32 : 64;
}

// Signature fields common to SignedReading and SignedBatch.
struct Envelope {
  const flatbuffers::String* key_id;
  wire::SignatureAlg alg;
  const flatbuffers::Vector<uint8_t>* signature;
};

Envelope envelope_of(const Batch& b, uint32_t f) {
  const auto bytes = b.frame_bytes(f);
  if (b.frames[f].kind == RecordKind::kSignedReading) {
    const auto* s = wire::GetSignedReading(bytes.data());
    return {s->key_id(), s->alg(), s->signature()};
  }
  const auto* s = wire::GetSignedBatch(bytes.data());
  return {s->key_id(), s->alg(), s->signature()};
}

}  // namespace

VerifySignature::VerifySignature(VerifySignatureConfig config) : config_(std::move(config)) {
  if (!config_.registry_path.empty()) {
    mtime_ns_ = file_mtime_ns(config_.registry_path);
    registries::RegistryLoadReport report;
    file_registry_ = load_logged(config_.registry_path, report);
  } else {
    file_registry_ = std::make_shared<registries::IdentityRegistry>();
  }
  registry_.store(file_registry_);
}

void VerifySignature::publish() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  if (!follower_) {
    registry_.store(file_registry_);
    return;
  }
  auto merged = std::make_shared<registries::IdentityRegistry>(*file_registry_);
  follower_->apply_to(*merged);
  registry_.store(std::move(merged));
}

bool VerifySignature::ready() const {
  return !follower_ || follower_->caught_up();
}

VerifySignature::~VerifySignature() {
  stop();
}

void VerifySignature::audit(std::string_view type, const std::string& source,
                            engine::AuditDetails extra) const {
  if (!config_.audit) return;
  const auto reg = registry_.load();
  engine::AuditDetails d{{"source", source},
                         {"sensors", std::to_string(reg->sensor_count())},
                         {"keys", std::to_string(reg->key_count())}};
  if (source == config_.registry_path)
    d.emplace_back("registry_sha256", engine::file_sha256_hex(config_.registry_path));
  for (auto& kv : extra) d.push_back(std::move(kv));
  config_.audit->record(type, std::move(d));
}

bool VerifySignature::start(std::string* error) {
  if (!config_.registry_path.empty()) audit("registry.identity_loaded", config_.registry_path);
  if (!config_.registry_topic.empty() && !follower_) {
    follower_ = std::make_unique<registries::RegistryTopicFollower>(
        config_.registry_kafka, config_.registry_topic, [this] {
          publish();
          audit("registry.identity_changed", "kafka:" + config_.registry_topic);
        });
    if (!follower_->start(error)) {
      follower_.reset();
      return false;
    }
  }
  if (config_.reload_interval_ms > 0 && !config_.registry_path.empty() && !watcher_.joinable())
    watcher_ = std::thread([this] { watch_loop(); });
  return true;
}

void VerifySignature::stop() {
  stop_.store(true);
  if (watcher_.joinable()) watcher_.join();
  if (follower_) follower_->stop();
}

void VerifySignature::set_registry(std::shared_ptr<const registries::IdentityRegistry> registry) {
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    file_registry_ = std::move(registry);
  }
  publish();
}

void VerifySignature::watch_loop() {
  int64_t waited = 0;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    waited += 50;
    if (waited < config_.reload_interval_ms) continue;
    waited = 0;
    const int64_t m = file_mtime_ns(config_.registry_path);
    if (m == 0 || m == mtime_ns_) continue;
    mtime_ns_ = m;
    try {
      registries::RegistryLoadReport report;
      set_registry(load_logged(config_.registry_path, report));
      audit("registry.identity_changed", config_.registry_path,
            {{"refused", std::to_string(report.refused.size())}});
    } catch (const engine::ConfigError& e) {
      engine::log_error("identity_registry", "reload refused; keeping the previous registry",
                        {{"error", e.what()}});
      audit("registry.identity_reload_failed", config_.registry_path, {{"error", e.what()}});
    }
  }
}

bool VerifySignature::within_budget(registries::KeyHealth& h, int64_t now) const {
  if (config_.suspect_key_rate <= 0) return true;
  const int64_t step = static_cast<int64_t>(1e9 / config_.suspect_key_rate);
  const int64_t burst =
      static_cast<int64_t>(config_.suspect_key_burst * 1e9 / config_.suspect_key_rate);
  int64_t tat = h.budget_tat_ns.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t base = std::max(tat, now);
    if (base - now > burst) return false;
    if (h.budget_tat_ns.compare_exchange_weak(tat, base + step, std::memory_order_relaxed))
      return true;
  }
}

void VerifySignature::process(Batch& b, engine::OperatorState*,
                              engine::OperatorContext& ctx) const {
  const auto reg = registry_.load();
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

  for (uint32_t r : b.sel) {
    const uint32_t f = b.row_frame[r];
    if (seen[f]) continue;
    seen[f] = 1;
    const RecordKind kind = b.frames[f].kind;
    if (kind == RecordKind::kReading || kind == RecordKind::kReadingBatch) {
      verdict[f] = SignatureVerdict::Unsigned;
      continue;
    }
    const Envelope env = envelope_of(b, f);
    const wire::Reading* first = b.row_reading[r];
    const auto* sensor = reg->find_sensor(first->sensor_id()->string_view());
    if (sensor == nullptr) {
      verdict[f] = SignatureVerdict::UnknownSensor;
      continue;
    }
    const auto* key = reg->find_key(env.key_id->string_view());
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
    if (env.alg != key->alg) {
      verdict[f] = SignatureVerdict::AlgorithmNotAllowed;
      continue;
    }
    if (key->revoked) {
      verdict[f] = SignatureVerdict::KeyRevoked;
      continue;
    }
    if (env.signature->size() != expected_sig_len(key->alg)) {
      verdict[f] = SignatureVerdict::Malformed;
      continue;
    }
    if (out_of_window) {
      verdict[f] = SignatureVerdict::KeyNotValidAtTime;
      continue;
    }
    const auto body = b.body_bytes(f);
    // A key that recently produced bad signatures is suspect: it gets a budget of
    // verifications per second (beyond it: throttled, not verified), and its Ed25519
    // signatures are verified one at a time so they cannot make an honest batch fail.
    const bool suspect = key->health->strikes.load(std::memory_order_relaxed) > 0;
    if (suspect && !within_budget(*key->health, ctx.now_mono_ns)) {
      verdict[f] = SignatureVerdict::Throttled;
      continue;
    }
    switch (key->alg) {
      case wire::SignatureAlg::Ed25519:
        if (suspect) {
          ed_suspect.push_back(
              {key->ed25519.data(), env.signature->data(), body.data(), body.size()});
          ed_suspect_f.push_back(f);
          ed_suspect_key.push_back(key);
        } else {
          ed.push_back({key->ed25519.data(), env.signature->data(), body.data(), body.size()});
          ed_f.push_back(f);
          ed_key.push_back(key);
        }
        break;
      case wire::SignatureAlg::EcdsaP256Sha256:
        ec.push_back(
            {&*key->ecdsa, env.signature->data(), env.signature->size(), body.data(), body.size()});
        ec_f.push_back(f);
        ec_key.push_back(key);
        break;
      case wire::SignatureAlg::HmacSha256:
        hm.push_back(
            {&*key->hmac, env.signature->data(), env.signature->size(), body.data(), body.size()});
        hm_f.push_back(f);
        hm_key.push_back(key);
        break;
      default:  // algorithms this operator does not verify yet (P-384, brainpool): refused
        verdict[f] = SignatureVerdict::AlgorithmNotAllowed;
        break;
    }
  }

  // Crypto in chunks, spread over cores.
  std::vector<uint8_t> ed_ok(ed.size()), ec_ok(ec.size()), hm_ok(hm.size()),
      ed_suspect_ok(ed_suspect.size());
  const size_t chunk = config_.chunk;
  const size_t ned = (ed.size() + chunk - 1) / chunk, nec = (ec.size() + chunk - 1) / chunk,
               nhm = (hm.size() + chunk - 1) / chunk;
  const size_t nsus = (ed_suspect.size() + 31) / 32;
  tbb::parallel_for(size_t{0}, ned + nec + nhm + nsus, [&](size_t t) {
    if (t >= ned + nec + nhm) {
      const size_t s = (t - ned - nec - nhm) * 32, e = std::min(ed_suspect.size(), s + 32);
      for (size_t i = s; i < e; ++i)
        ed_suspect_ok[i] = crypto::ed25519_verify(ed_suspect[i], config_.backend) ? 1 : 0;
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
  cfg.audit = ctx.pipeline.audit;
  if (auto r = c.maybe("registry")) cfg.registry_path = r->as_path();
  if (auto rt = c.maybe("registry_topic")) {
    cfg.registry_kafka = connectors::parse_kafka_settings(*rt);
    cfg.registry_topic = rt->get("topic").as_string();
    rt->finish();
  }
  if (cfg.registry_path.empty() && cfg.registry_topic.empty())
    c.fail("verify_signature needs `registry` (a file), `registry_topic`, or both");
  cfg.reload_interval_ms = c.get_int("reload_interval_ms", 2000, 0, 86400000);
  if (auto bn = c.maybe("backend")) {
    if (!crypto::parse_backend(bn->as_string(), cfg.backend))
      bn->fail("unknown backend (auto, openssl, portable, avx2, avx512)");
    if (!crypto::backend_supported(cfg.backend))
      bn->fail("this CPU does not support backend '" + bn->as_string() + "'");
  }
  cfg.allow_unsigned = c.get_bool("allow_unsigned", false);
  cfg.chunk = static_cast<size_t>(c.get_int("chunk", 256, 1, 4096));
  cfg.suspect_key_rate = c.get_double("suspect_key_rate", 100);
  cfg.suspect_key_burst = c.get_double("suspect_key_burst", 50);
  if (cfg.suspect_key_rate < 0 || cfg.suspect_key_burst < 1)
    c.fail("suspect_key_rate must be >= 0 and suspect_key_burst >= 1");
  try {
    return std::make_unique<VerifySignature>(cfg);
  } catch (const engine::ConfigError& e) {
    c.get("registry").fail(std::string("cannot load the identity registry: ") + e.what());
  }
  return nullptr;
}

}  // namespace assay::operators
