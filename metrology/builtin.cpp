#include "metrology/builtin.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>

#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/time.hpp"
#include "registries/pipeline.hpp"
#include "schemas/reading_generated.h"

namespace assay::metrology {

namespace {

constexpr const char* kDispositionNames[] = {"accepted", "unknown_request", "wrong_instrument",
                                             "late",     "duplicate",       "malformed"};

// Subscribes the pipeline's register to the results of `campaigns` (whichever of the two
// operators is built second connects them).
void connect(engine::BuildContext& ctx,
             const std::vector<std::shared_ptr<CampaignService>>& campaigns) {
  const auto regs = ctx.services.all<InstrumentRegister>();
  if (regs.empty()) return;
  for (const auto& c : campaigns) {
    std::weak_ptr<InstrumentRegister> weak = regs.front();
    c->subscribe([weak](const Result& r) {
      if (auto reg = weak.lock()) reg->on_result(r);
    });
  }
}

}  // namespace

VerificationOperator::VerificationOperator(std::shared_ptr<CampaignService> campaigns,
                                           std::array<prometheus::Counter*, 6> responses,
                                           std::array<prometheus::Counter*, 4> results)
    : campaigns_(std::move(campaigns)), responses_(responses), results_(results) {
  if (!campaigns_) throw std::invalid_argument("verification needs a campaign service");
}

std::unique_ptr<engine::OperatorState> VerificationOperator::make_state(engine::Partition) const {
  return std::make_unique<engine::OperatorState>();
}

void VerificationOperator::process(engine::Batch& b, engine::OperatorState*,
                                   engine::OperatorContext& ctx) const {
  std::vector<Result> finished;
  std::vector<uint32_t> anchors;  // frame each result is accounted to
  for (uint32_t r = 0; r < b.row_count(); ++r) {
    const wire::Reading* rd = b.row_reading[r];
    if (rd == nullptr || rd->request_id() == nullptr) continue;
    const uint32_t f = b.row_frame[r];
    Evidence ev;
    ev.source_topic = b.topic;
    ev.source_partition = b.partition.value();
    ev.source_offset = b.frames[f].source_offset.value();
    ev.reading_index = b.row_index[r];
    ev.seq = rd->seq();
    ev.time_ns = rd->time_ns();
    ev.received_ns = ctx.now_ns;
    // Only a response whose signature verified is the instrument's answer; the others are
    // noted on their request (never counted) and keep their rejection.
    if (b.row_signature[r] != static_cast<uint8_t>(wire::SignatureVerdict::Valid)) {
      const engine::RejectCode code = b.row_reject[r];
      campaigns_->on_refused(*rd,
                             code != engine::RejectCode::kNone
                                 ? engine::reject_code_name(code)
                                 : std::string_view("signature.not_checked"),
                             ev);
      if (responses_[1] != nullptr) responses_[1]->Increment();
      continue;
    }
    const Disposition d = campaigns_->on_response({rd, std::move(ev)}, ctx.now_ns, &finished);
    anchors.resize(finished.size(), f);
    if (auto* c = responses_[static_cast<size_t>(d)]) c->Increment();
    if (d != Disposition::kAccepted && b.row_reject[r] == engine::RejectCode::kNone)
      b.reject_row(r, reject_code_of(d), ctx.stage);
  }
  campaigns_->expire(ctx.now_ns, &finished);
  anchors.resize(finished.size(), 0);
  for (size_t i = 0; i < finished.size(); ++i) {
    if (auto* c = results_[static_cast<size_t>(finished[i].outcome)]) c->Increment();
    b.side_records.push_back({engine::Route::kVerifications, anchors[i], encode_result(finished[i]),
                              finished[i].instrument_id});
  }
}

std::unique_ptr<engine::Operator> VerificationOperator::from_config(const engine::ConfigNode& c,
                                                                    engine::BuildContext& ctx) {
  auto identity = registries::identity_store_for(c, ctx);
  if (!identity)
    c.fail(
        "verification needs an identity registry (`registry:` or the pipeline's "
        "`registries.identity`)");
  auto calibration = registries::calibration_store_for(c, ctx);
  if (!ctx.pipeline.audit)
    c.fail(
        "verification needs the pipeline's `audit:` section: every e-verification result is "
        "recorded in the audit log");
  const engine::ConfigNode plan_node = c.get("plan");
  const std::string plan_path = plan_node.as_path();
  const std::string key = "verification:" + plan_path;
  if (ctx.services.find<CampaignService>(key))
    plan_node.fail("another verification operator of this pipeline runs this plan");
  CampaignConfig cfg;
  // A bad plan is refused with its own file:line:column (a ConfigError from the plan file).
  cfg.plan = load_plan(plan_path, *identity->current(),
                       calibration ? calibration->snapshot().get() : nullptr, engine::now_ns());
  const engine::ConfigNode key_node = c.get("key");
  try {
    cfg.key = engine::EngineKey::load(key_node.as_path(), c.get_string("key_id", ""));
  } catch (const engine::ConfigError& e) {
    key_node.fail(e.message());
  }
  const engine::ConfigNode cmd = c.get("commands");
  cfg.topic_prefix = cmd.get_string("topic_prefix", "assay.verification.");
  if (cmd.has("file")) {
    cfg.publisher = make_file_publisher(cmd.get("file").as_path());
  } else if (cmd.has("brokers")) {
    cfg.publisher = make_kafka_publisher(connectors::parse_kafka_settings(cmd));
  } else {
    cmd.fail("needs `brokers` (Kafka command topics) or `file` (a record file of requests)");
  }
  cmd.finish();
  cfg.identity = std::move(identity);
  cfg.calibration = std::move(calibration);
  cfg.audit = ctx.pipeline.audit;
  cfg.pipeline_name = ctx.pipeline.name;
  cfg.instance_id = ctx.pipeline.instance_id;
  cfg.retain_campaigns = static_cast<size_t>(c.get_int("retain_campaigns", 16, 1, 100000));
  auto service = ctx.services.add(key, std::make_shared<CampaignService>(std::move(cfg)));
  connect(ctx, {service});
  auto& responses = ctx.metrics.counters("assay_verification_responses_total",
                                         "Readings naming a verification request, by disposition");
  std::array<prometheus::Counter*, 6> rc{};
  for (size_t i = 0; i < rc.size(); ++i)
    rc[i] =
        &responses.Add({{"pipeline", ctx.pipeline.name}, {"disposition", kDispositionNames[i]}});
  auto& results = ctx.metrics.counters("assay_verification_results_total",
                                       "E-verification results written, by outcome");
  std::array<prometheus::Counter*, 4> oc{};
  for (size_t i = 0; i < oc.size(); ++i)
    oc[i] = &results.Add({{"pipeline", ctx.pipeline.name},
                          {"outcome", std::string(outcome_name(static_cast<Outcome>(i)))}});
  return std::make_unique<VerificationOperator>(std::move(service), rc, oc);
}

std::unique_ptr<engine::Operator> register_from_config(const engine::ConfigNode& c,
                                                       engine::BuildContext& ctx) {
  auto identity = registries::identity_store_for(c, ctx);
  if (!identity)
    c.fail(
        "instrument_register needs an identity registry (`registry:` or the pipeline's "
        "`registries.identity`)");
  if (!ctx.services.all<InstrumentRegister>().empty())
    c.fail("a pipeline has one instrument register");
  RegisterConfig cfg;
  cfg.identity = std::move(identity);
  cfg.calibration = registries::calibration_store_for(c, ctx);
  if (auto s = c.maybe("snapshot")) cfg.snapshot_path = s->as_path();
  cfg.snapshot_interval_ms = c.get_int("snapshot_interval_ms", 60000, 0, 86'400'000);
  cfg.certificate_refresh_ms = c.get_int("certificate_refresh_ms", 60000, 100, 86'400'000);
  cfg.trusted_endpoint = c.get_string("trusted_endpoint", "");
  cfg.aas_id_prefix = c.get_string("aas_id_prefix", "urn:assay:aas:");
  cfg.max_instruments = static_cast<size_t>(c.get_int("max_instruments", 16 << 20, 1, 1LL << 28));
  if (auto np = c.maybe("nameplate")) {
    cfg.nameplate.manufacturer_name = np->get_string("manufacturer_name", "unknown");
    cfg.nameplate.product_designation =
        np->get_string("product_designation", "measuring instrument");
    cfg.nameplate.year_of_construction = np->get_string("year_of_construction", "2026");
    cfg.nameplate.country_of_origin = np->get_string("country_of_origin", "");
    if (auto m = np->maybe("markings")) {
      for (const engine::ConfigNode& item : m->items()) {
        NameplateDefaults::Marking mk;
        mk.name = item.get("name").as_string();
        if (mk.name.empty()) item.get("name").fail("must not be empty");
        mk.certificate = item.get_string("certificate", "");
        item.finish();
        cfg.nameplate.markings.push_back(std::move(mk));
      }
    }
    np->finish();
  }
  std::shared_ptr<InstrumentRegister> reg;
  try {
    reg = std::make_shared<InstrumentRegister>(std::move(cfg));
  } catch (const std::bad_alloc&) {
    c.fail("cannot reserve memory for max_instruments");
  }
  ctx.services.add("register", reg);
  connect(ctx, ctx.services.all<CampaignService>());
  return std::make_unique<RegisterOperator>(std::move(reg));
}

void register_metrology(engine::Registries& registries) {
  registries.operators.add("verification", &VerificationOperator::from_config);
  registries.operators.add("instrument_register", &register_from_config);
}

}  // namespace assay::metrology
