#include "registries/pipeline.hpp"

#include "engine/files.hpp"
#include "registries/certificate_sources.hpp"

namespace assay::registries {

namespace {

constexpr const char* kDefaultIdentity = "identity:default";
constexpr const char* kDefaultCalibration = "calibration:default";

IdentitySource parse_identity(const std::optional<engine::ConfigNode>& file,
                              const std::optional<engine::ConfigNode>& topic, int64_t interval) {
  IdentitySource s;
  if (file) s.file = file->as_path();
  if (topic) {
    s.topic.kafka = connectors::parse_kafka_settings(*topic);
    s.topic.topic = topic->get("topic").as_string();
    topic->finish();
  }
  s.reload_interval_ms = interval;
  return s;
}

// Parses `certificates`, `trust`, `certificates_topic`, `reload_interval_ms` of `n` (an operator
// or the `registries.calibration` section); false if it names no certificates at all.
bool parse_calibration(const engine::ConfigNode& n, CalibrationStoreConfig& c) {
  const auto certs = n.maybe("certificates");
  const auto topic = n.maybe("certificates_topic");
  if (!certs && !topic) {
    if (n.has("trust")) n.fail("`trust` needs `certificates` (a file), `certificates_topic`, or both");
    return false;
  }
  if (certs) c.certificates_path = certs->as_path();
  if (topic) {
    c.topic_kafka = connectors::parse_kafka_settings(*topic);
    c.topic = topic->get("topic").as_string();
    topic->finish();
  }
  c.trust_path = n.get("trust").as_path();
  c.reload_interval_ms = n.get_int("reload_interval_ms", 2000, 0, 86'400'000);
  return true;
}

std::shared_ptr<CalibrationStore> calibration_store(engine::BuildContext& ctx,
                                                    CalibrationStoreConfig cfg,
                                                    const engine::ConfigNode& where) {
  const std::string key = cfg.key();
  if (auto s = ctx.services.find<CalibrationStore>(key)) return s;
  // Metrics and audit events of the store: refused certificates by reason, certificates in
  // the current snapshot, every published change (WELMEC 7.2).
  auto& refused = ctx.metrics.counters("assay_calibration_certificates_refused_total",
                                       "Calibration certificates refused, by reason");
  std::array<prometheus::Counter*, 4> by_reason{};
  for (size_t i = 0; i < by_reason.size(); ++i)
    by_reason[i] = &refused.Add(
        {{"pipeline", ctx.pipeline.name},
         {"reason", std::string(cert_refusal_name(static_cast<CertRefusal>(i)))}});
  prometheus::Gauge* loaded = &ctx.metrics
                                   .gauges("assay_calibration_certificates",
                                           "Calibration certificates in the current snapshot")
                                   .Add({{"pipeline", ctx.pipeline.name}});
  std::shared_ptr<engine::AuditLog> audit = ctx.pipeline.audit;
  cfg.on_refused = [by_reason, audit](const RefusedCertificate& r) {
    by_reason[static_cast<size_t>(r.reason)]->Increment();
    if (audit)
      audit->record("registry.calibration_certificate_refused",
                    {{"certificate_id", r.certificate_id},
                     {"reason", std::string(cert_refusal_name(r.reason))},
                     {"detail", r.message}});
  };
  const std::string certs_path = cfg.certificates_path;
  cfg.on_published = [loaded, audit, certs_path](size_t n) {
    loaded->Set(static_cast<double>(n));
    if (audit)
      audit->record("registry.calibration_changed",
                    {{"certificates", std::to_string(n)},
                     {"certificates_file", certs_path},
                     {"certificates_sha256",
                      certs_path.empty() ? std::string() : certificates_sha256_hex(certs_path)}});
  };
  std::shared_ptr<IdentityStore> identity = cfg.identity;
  std::shared_ptr<CalibrationStore> store;
  try {
    store = std::make_shared<CalibrationStore>(std::move(cfg), audit);
  } catch (const engine::ConfigError& e) {
    where.fail(std::string("cannot load the calibration registry: ") + e.what());
  }
  if (identity)
    identity->subscribe([weak = std::weak_ptr<CalibrationStore>(store)] {
      if (auto s = weak.lock()) s->identity_changed();
    });
  return ctx.services.add(key, std::move(store));
}

}  // namespace

std::shared_ptr<IdentityStore> identity_store(engine::BuildContext& ctx, const IdentitySource& source,
                                              const engine::ConfigNode& where) {
  const std::string key = source.key();
  if (auto s = ctx.services.find<IdentityStore>(key)) return s;
  std::shared_ptr<IdentityStore> store;
  try {
    store = std::make_shared<IdentityStore>(source, ctx.pipeline.audit);
  } catch (const engine::ConfigError& e) {
    where.fail(std::string("cannot load the identity registry: ") + e.what());
  }
  for (const auto& other : ctx.services.all<IdentityStore>())
    ctx.warn(where, "names " + store->describe() + ", but another part of this pipeline uses " +
                        other->describe() + ": operators would disagree about the fleet");
  return ctx.services.add(key, std::move(store));
}

std::shared_ptr<IdentityStore> identity_store_for(const engine::ConfigNode& op,
                                                  engine::BuildContext& ctx) {
  const auto file = op.maybe("registry");
  const auto topic = op.maybe("registry_topic");
  const auto interval = op.maybe("reload_interval_ms");
  if (!file && !topic) return ctx.services.find<IdentityStore>(kDefaultIdentity);
  const IdentitySource s =
      parse_identity(file, topic, interval ? interval->as_int(0, 86'400'000) : 2000);
  if (auto def = ctx.services.find<IdentityStore>(kDefaultIdentity);
      def && def->source().key() == s.key())
    return def;
  return identity_store(ctx, s, file ? *file : *topic);
}

std::shared_ptr<CalibrationStore> calibration_store_for(const engine::ConfigNode& op,
                                                        engine::BuildContext& ctx) {
  CalibrationStoreConfig cfg;
  auto identity = identity_store_for(op, ctx);
  if (!parse_calibration(op, cfg)) {
    auto def = ctx.services.find<CalibrationStore>(kDefaultCalibration);
    if (def && identity && def->config().identity != identity)
      op.get("registry").fail("differs from the identity registry of `registries.calibration`");
    return def;
  }
  cfg.identity = std::move(identity);
  if (auto def = ctx.services.find<CalibrationStore>(kDefaultCalibration);
      def && def->config().key() == cfg.key())
    return def;
  return calibration_store(ctx, std::move(cfg), op);
}

void build_registries_section(const engine::ConfigNode& section, engine::BuildContext& ctx) {
  if (auto id = section.maybe("identity")) {
    const auto file = id->maybe("file");
    const auto topic = id->maybe("topic");
    if (!file && !topic) id->fail("needs `file`, `topic`, or both");
    const IdentitySource s =
        parse_identity(file, topic, id->get_int("reload_interval_ms", 2000, 0, 86'400'000));
    id->finish();
    identity_store(ctx, s, *id);
    ctx.services.alias(kDefaultIdentity, s.key());
  }
  if (auto cal = section.maybe("calibration")) {
    CalibrationStoreConfig cfg;
    if (!parse_calibration(*cal, cfg)) cal->fail("needs `certificates`, `certificates_topic`, or both");
    cal->finish();
    cfg.identity = ctx.services.find<IdentityStore>(kDefaultIdentity);
    const std::string key = cfg.key();
    calibration_store(ctx, std::move(cfg), *cal);
    ctx.services.alias(kDefaultCalibration, key);
  }
  section.finish();
}

void register_sections(engine::Registries& registries) {
  registries.sections["registries"] = &build_registries_section;
}

}  // namespace assay::registries
