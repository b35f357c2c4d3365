#include "metrology/campaign.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "crypto/sha256.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"
#include "schemas/reading_generated.h"

namespace assay::metrology {

namespace {

std::string_view str(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : s->string_view();
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Kafka: one idempotent producer per command topic.
class KafkaPublisher final : public RequestPublisher {
 public:
  explicit KafkaPublisher(connectors::KafkaClientSettings s) : settings_(std::move(s)) {}
  ~KafkaPublisher() override { stop(); }
  bool start(const std::vector<std::string>& topics, std::string* error) override {
    for (const std::string& t : topics) {
      if (producers_.count(t) > 0) continue;
      auto p = std::make_unique<connectors::KafkaProducer>();
      connectors::ProducerOptions o;
      o.defaults = {
          {"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}, {"log_level", "4"}};
      o.on_delivery = &KafkaPublisher::on_delivery;
      o.opaque = this;
      o.topic_check_timeout_ms = 5000;
      o.poll_interval_ms = 100;
      o.stop_flush_ms = 5000;
      std::string err;
      if (!p->start(settings_, t, o, &err)) {
        *error = "command topic '" + t + "': " + err;
        stop();
        return false;
      }
      producers_.emplace(t, std::move(p));
    }
    return true;
  }
  bool publish(const std::string& topic, const std::string& key, std::span<const uint8_t> record,
               std::string* error) override {
    auto it = producers_.find(topic);
    if (it == producers_.end()) {
      *error = "no producer for topic '" + topic + "'";
      return false;
    }
    const int rc = rd_kafka_produce(it->second->topic(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                    const_cast<uint8_t*>(record.data()), record.size(), key.data(),
                                    key.size(), nullptr);
    if (rc != 0) {
      *error = std::string("produce failed: ") + rd_kafka_err2str(rd_kafka_last_error());
      return false;
    }
    return true;
  }
  bool flush(int timeout_ms) override {
    bool ok = true;
    for (auto& [t, p] : producers_)
      ok = rd_kafka_flush(p->handle(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && ok;
    return ok && failed_.load() == 0;
  }
  void stop() override {
    for (auto& [t, p] : producers_) p->stop();
    producers_.clear();
  }
  std::string describe() const override { return "kafka:" + settings_.brokers; }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      static_cast<KafkaPublisher*>(opaque)->failed_++;
      engine::log_error("verification", "a test-case request was not delivered",
                        {{"error", rd_kafka_err2str(m->err)}});
    }
  }
  const connectors::KafkaClientSettings settings_;
  std::map<std::string, std::unique_ptr<connectors::KafkaProducer>> producers_;
  std::atomic<uint64_t> failed_{0};
};

// A framed file of requests.
class FilePublisher final : public RequestPublisher {
 public:
  explicit FilePublisher(std::string path) : path_(std::move(path)) {}
  bool start(const std::vector<std::string>&, std::string* error) override {
    if (!writer_.open(path_)) {
      *error = writer_.error();
      return false;
    }
    return true;
  }
  bool publish(const std::string&, const std::string&, std::span<const uint8_t> record,
               std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!writer_.write(record) || !writer_.flush()) {
      *error = writer_.error();
      return false;
    }
    return true;
  }
  bool flush(int) override {
    std::lock_guard<std::mutex> lock(mu_);
    return writer_.flush();
  }
  void stop() override {
    std::lock_guard<std::mutex> lock(mu_);
    writer_.close();
  }
  std::string describe() const override { return "file:" + path_; }

 private:
  const std::string path_;
  std::mutex mu_;
  engine::FrameWriter writer_;
};

}  // namespace

std::unique_ptr<RequestPublisher> make_kafka_publisher(connectors::KafkaClientSettings settings) {
  return std::make_unique<KafkaPublisher>(std::move(settings));
}

std::unique_ptr<RequestPublisher> make_file_publisher(std::string path) {
  return std::make_unique<FilePublisher>(std::move(path));
}

engine::RejectCode reject_code_of(Disposition d) {
  switch (d) {
    case Disposition::kAccepted:
      return engine::RejectCode::kNone;
    case Disposition::kUnknownRequest:
      return engine::RejectCode::kVerificationUnknownRequest;
    case Disposition::kWrongInstrument:
      return engine::RejectCode::kVerificationWrongInstrument;
    case Disposition::kLate:
      return engine::RejectCode::kVerificationLate;
    case Disposition::kDuplicate:
      return engine::RejectCode::kVerificationDuplicate;
    case Disposition::kMalformed:
      return engine::RejectCode::kVerificationMalformed;
  }
  return engine::RejectCode::kNone;
}

struct CampaignService::InstrumentRun {
  std::string instrument_id;
  size_t group = 0;
  std::vector<CaseResult> cases;
  std::vector<bool> answered;
  size_t answered_count = 0;
  std::vector<Refusal> refused;
  bool final = false;
  std::vector<uint8_t> firmware;
  FirmwareStatus firmware_status = FirmwareStatus::kNotChecked;
};

struct CampaignService::Campaign {
  std::string id;
  int64_t issued_ns = 0;
  int64_t deadline_ns = 0;
  std::vector<InstrumentRun> runs;
  size_t open = 0;
  std::vector<std::string> request_ids;
  uint64_t counts[4] = {};
};

struct CampaignService::Pending {
  Campaign* campaign = nullptr;
  uint32_t run = 0;
  uint32_t index = 0;  ///< case
};

CampaignService::CampaignService(CampaignConfig config) : config_(std::move(config)) {
  if (!config_.key) throw std::invalid_argument("verification campaigns need a signing key");
  if (!config_.publisher) throw std::invalid_argument("verification campaigns need a publisher");
  if (!config_.identity)
    throw std::invalid_argument("verification campaigns need an identity registry");
}

CampaignService::~CampaignService() {
  stop();
}

std::string CampaignService::describe() const {
  return "verification campaigns of plan '" + config_.plan.id + "' (" +
         config_.publisher->describe() + ")";
}

std::string CampaignService::topic_of(const PlanGroup& g) const {
  return g.command_topic.empty() ? config_.topic_prefix + g.id : g.command_topic;
}

bool CampaignService::start(std::string* error) {
  if (thread_.joinable()) return true;
  std::vector<std::string> topics;
  for (const PlanGroup& g : config_.plan.groups) topics.push_back(topic_of(g));
  if (!config_.publisher->start(topics, error)) return false;
  started_ns_ = engine::now_ns();
  stop_.store(false);
  thread_ = std::thread([this] { loop(); });
  return true;
}

void CampaignService::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    stop_.store(true);
  }
  q_cv_.notify_all();
  thread_.join();
  // Campaigns still open end without results on the route (the pipeline is draining): the
  // audit log says so.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : campaigns_)
      if (c->open > 0)
        audit_async("verification.campaign_abandoned",
                    {{"campaign_id", c->id},
                     {"open_instruments", std::to_string(c->open)},
                     {"deadline", engine::format_rfc3339(c->deadline_ns)}});
  }
  std::vector<std::pair<std::string, engine::AuditDetails>> rest;
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    rest.swap(audit_queue_);
  }
  if (config_.audit)
    for (auto& [type, details] : rest) config_.audit->record(type, std::move(details));
  config_.publisher->flush(5000);
  config_.publisher->stop();
}

void CampaignService::subscribe(std::function<void(const Result&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.push_back(std::move(fn));
}

CampaignStats CampaignService::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CampaignService::audit_async(std::string type, engine::AuditDetails details) {
  if (!config_.audit) return;
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    audit_queue_.emplace_back(std::move(type), std::move(details));
  }
  q_cv_.notify_all();
}

void CampaignService::loop() {
  const PlanSchedule& s = config_.plan.schedule;
  int64_t next = s.start_ns ? *s.start_ns : started_ns_ + s.start_delay_ms * 1'000'000;
  for (;;) {
    std::vector<std::pair<std::string, engine::AuditDetails>> events;
    {
      std::unique_lock<std::mutex> lock(q_mu_);
      q_cv_.wait_for(lock, std::chrono::milliseconds(50),
                     [this] { return stop_.load() || !audit_queue_.empty(); });
      events.swap(audit_queue_);
    }
    for (auto& [type, details] : events) config_.audit->record(type, std::move(details));
    if (stop_.load()) return;
    const int64_t now = engine::now_ns();
    if (config_.schedule && issued_campaigns_ < s.repeat && now >= next) {
      issue_campaign(now);
      ++issued_campaigns_;
      // Missed periods are skipped, not issued in a burst.
      next += std::max<int64_t>(s.every_ms, 1) * 1'000'000;
      while (s.every_ms > 0 && next <= now) next += s.every_ms * 1'000'000;
    }
  }
}

std::string CampaignService::issue_campaign(int64_t now_ns) {
  const VerificationPlan& plan = config_.plan;
  auto c = std::make_unique<Campaign>();
  c->issued_ns = now_ns;
  c->deadline_ns = now_ns + plan.schedule.response_timeout_ms * 1'000'000;
  c->id = plan.id + "@" + engine::format_rfc3339(now_ns);
  struct Out {
    std::string topic, key;
    std::vector<uint8_t> record;
  };
  std::vector<Out> out;
  out.reserve(plan.request_count());
  for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
    const PlanGroup& g = plan.groups[gi];
    const std::string topic = topic_of(g);
    for (const std::string& inst : g.instruments) {
      InstrumentRun run;
      run.instrument_id = inst;
      run.group = gi;
      for (const PlanCase& k : g.cases) {
        Request q;
        const std::string seed = c->id + "\n" + inst + "\n" + k.id;
        const auto h = crypto::sha256(std::string_view(seed));
        q.request_id = "vr-" + engine::to_hex(std::span<const uint8_t>(h.data(), 16));
        q.plan_id = plan.id;
        q.plan_sha256 = plan.sha256;
        q.campaign_id = c->id;
        q.case_id = k.id;
        q.instrument_id = inst;
        q.group = g.id;
        q.quantity = k.quantity;
        q.unit = k.unit;
        q.reference_value = k.reference_value;
        q.stimulus = k.stimulus;
        q.issued_ns = c->issued_ns;
        q.deadline_ns = c->deadline_ns;
        sign_request(q, *config_.key);
        CaseResult cr;
        cr.case_id = k.id;
        cr.request_id = q.request_id;
        cr.reference_value = k.reference_value;
        cr.mpe_absolute = k.mpe_absolute;
        cr.mpe_relative = k.mpe_relative;
        cr.mpe = k.mpe_absolute + k.mpe_relative * std::fabs(k.reference_value);
        run.cases.push_back(std::move(cr));
        c->request_ids.push_back(q.request_id);
        out.push_back({topic, inst, encode_request(q)});
      }
      run.answered.assign(run.cases.size(), false);
      c->runs.push_back(std::move(run));
    }
  }
  c->open = c->runs.size();
  const std::string id = c->id;
  const size_t instruments = c->runs.size();
  const int64_t deadline = c->deadline_ns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Campaign* cp = c.get();
    size_t k = 0;
    for (uint32_t r = 0; r < cp->runs.size(); ++r)
      for (uint32_t i = 0; i < cp->runs[r].cases.size(); ++i)
        requests_[cp->request_ids[k++]] = Pending{cp, r, i};
    campaigns_.push_back(std::move(c));
    next_deadline_ = std::min(next_deadline_, deadline);
    stats_.campaigns++;
    stats_.requests += out.size();
  }
  uint64_t failures = 0;
  std::string err;
  for (const Out& o : out) {
    if (!config_.publisher->publish(o.topic, o.key, o.record, &err)) {
      ++failures;
      engine::log_error("verification", "cannot publish a test-case request",
                        {{"topic", o.topic}, {"instrument", o.key}, {"error", err}});
    }
  }
  if (failures > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.publish_failures += failures;
  }
  engine::log_info("verification", "campaign started",
                   {{"campaign", id},
                    {"instruments", std::to_string(instruments)},
                    {"requests", std::to_string(out.size())},
                    {"deadline", engine::format_rfc3339(deadline)}});
  audit_async("verification.campaign_started", {{"campaign_id", id},
                                                {"plan_id", plan.id},
                                                {"plan_sha256", engine::to_hex(plan.sha256)},
                                                {"plan_file", plan.file},
                                                {"instruments", std::to_string(instruments)},
                                                {"requests", std::to_string(out.size())},
                                                {"publish_failures", std::to_string(failures)},
                                                {"deadline", engine::format_rfc3339(deadline)}});
  return id;
}

Disposition CampaignService::on_response(const ResponseView& resp, int64_t now_ns,
                                         std::vector<Result>* finished) {
  const wire::Reading& rd = *resp.reading;
  const std::string_view rid = str(rd.request_id());
  std::lock_guard<std::mutex> lock(mu_);
  auto refuse = [&](InstrumentRun* run, Disposition d) {
    stats_.responses_refused++;
    if (run != nullptr && !run->final && run->refused.size() < config_.max_refusals)
      run->refused.push_back({std::string(rid),
                              std::string(engine::reject_code_name(reject_code_of(d))),
                              resp.evidence});
    return d;
  };
  auto it = requests_.find(std::string(rid));
  if (it == requests_.end()) return refuse(nullptr, Disposition::kUnknownRequest);
  Campaign& c = *it->second.campaign;
  InstrumentRun& run = c.runs[it->second.run];
  const uint32_t i = it->second.index;
  if (str(rd.sensor_id()) != run.instrument_id) return refuse(&run, Disposition::kWrongInstrument);
  if (run.answered[i]) return refuse(&run, Disposition::kDuplicate);
  if (run.final || now_ns > c.deadline_ns) return refuse(&run, Disposition::kLate);
  if (rd.kind() != wire::ReadingKind::ReferenceCheck) return refuse(&run, Disposition::kMalformed);

  // The calibration check of the response with the certificate in force at its time, then the
  // plan's reference and MPE under the plan's decision rule.
  const auto identity = config_.identity->current();
  std::shared_ptr<const registries::CalibrationRegistry> certs;
  registries::CertLookup found;
  if (config_.calibration) {
    certs = config_.calibration->snapshot();
    found = certs->lookup(run.instrument_id, rd.time_ns());
  }
  const operators::CalibrationResult cal =
      operators::decide_calibration(rd, found, identity.get(), config_.plan.rule, false);
  CaseResult& k = run.cases[i];
  decide_case({k.reference_value, k.mpe_absolute, k.mpe_relative}, cal, rd.reference_value(),
              config_.plan.rule, k);
  k.value = rd.value();
  k.response_reference_value = rd.reference_value();
  if (const auto* fw = rd.firmware_sha256()) k.firmware_sha256.assign(fw->begin(), fw->end());
  k.evidence = resp.evidence;
  // Firmware against the registry: the first unapproved one seen is kept as evidence.
  FirmwareStatus fs = FirmwareStatus::kNotChecked;
  if (const registries::SensorInfo* info = identity->find_sensor(run.instrument_id);
      info != nullptr && !info->approved_firmware.empty()) {
    if (k.firmware_sha256.size() != 32) {
      fs = FirmwareStatus::kMissing;
    } else {
      fs = FirmwareStatus::kNotApproved;
      for (const auto& h : info->approved_firmware)
        if (std::memcmp(h.data(), k.firmware_sha256.data(), 32) == 0)
          fs = FirmwareStatus::kApproved;
    }
  }
  const bool run_bad = run.firmware_status == FirmwareStatus::kNotApproved ||
                       run.firmware_status == FirmwareStatus::kMissing;
  if (!run_bad) {
    run.firmware_status = fs;
    run.firmware = k.firmware_sha256;
  }
  run.answered[i] = true;
  run.answered_count++;
  stats_.responses_accepted++;
  if (run.answered_count == run.cases.size()) finalize_locked(c, run, now_ns, finished);
  return Disposition::kAccepted;
}

void CampaignService::on_refused(const wire::Reading& rd, std::string_view reason,
                                 const Evidence& evidence) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.responses_refused++;
  auto it = requests_.find(std::string(str(rd.request_id())));
  if (it == requests_.end()) return;
  InstrumentRun& run = it->second.campaign->runs[it->second.run];
  if (!run.final && run.refused.size() < config_.max_refusals)
    run.refused.push_back({std::string(str(rd.request_id())), std::string(reason), evidence});
}

void CampaignService::expire(int64_t now_ns, std::vector<Result>* finished) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now_ns <= next_deadline_) return;
  next_deadline_ = INT64_MAX;
  for (auto& c : campaigns_) {
    if (c->open == 0) continue;
    if (now_ns > c->deadline_ns) {
      for (InstrumentRun& run : c->runs)
        if (!run.final) finalize_locked(*c, run, now_ns, finished);
    } else {
      next_deadline_ = std::min(next_deadline_, c->deadline_ns);
    }
  }
  evict_locked();
}

void CampaignService::evict_locked() {
  size_t finished = 0;
  for (const auto& c : campaigns_) finished += c->open == 0 ? 1 : 0;
  while (finished > config_.retain_campaigns) {
    auto it = std::find_if(campaigns_.begin(), campaigns_.end(),
                           [](const auto& c) { return c->open == 0; });
    if (it == campaigns_.end()) break;
    for (const std::string& rid : (*it)->request_ids) requests_.erase(rid);
    campaigns_.erase(it);
    --finished;
  }
}

void CampaignService::finalize_locked(Campaign& c, InstrumentRun& run, int64_t now_ns,
                                      std::vector<Result>* finished) {
  const VerificationPlan& plan = config_.plan;
  Result r;
  r.result_id = c.id + "/" + run.instrument_id;
  r.plan_id = plan.id;
  r.plan_sha256 = plan.sha256;
  r.campaign_id = c.id;
  r.instrument_id = run.instrument_id;
  r.group = plan.groups[run.group].id;
  r.decision_rule = plan.rule == operators::DecisionRule::kGuarded ? "guarded" : "simple";
  r.cases = run.cases;
  r.refused = run.refused;
  r.outcome = aggregate(r.cases);
  r.firmware_sha256 = run.firmware;
  r.firmware_status = run.firmware_status;
  r.issued_ns = c.issued_ns;
  r.deadline_ns = c.deadline_ns;
  r.decided_ns = now_ns;
  r.pipeline_name = config_.pipeline_name;
  r.instance_id = config_.instance_id;
  if (config_.calibration) {
    const auto certs = config_.calibration->snapshot();
    const registries::CertLookup found = certs->lookup(run.instrument_id, now_ns);
    if (found.status == registries::CertStatus::kValid && found.hot != nullptr) {
      r.certificate_id = std::string(found.stable_id);
      r.certificate_valid_until_ns = found.hot->valid_until_ns;
    }
  }
  // The deciding case: the first whose outcome is the result's.
  const CaseResult* decisive = nullptr;
  size_t unanswered = 0;
  for (const CaseResult& k : r.cases) {
    unanswered += k.evidence ? 0 : 1;
    if (decisive == nullptr && k.outcome == r.outcome) decisive = &k;
  }
  r.reason = decisive != nullptr ? decisive->reason : "no_response";
  const std::string cid = decisive != nullptr ? "case '" + decisive->case_id + "': " : "";
  switch (r.outcome) {
    case Outcome::kPassed:
      r.detail = "all " + std::to_string(r.cases.size()) + " cases in tolerance (|e| + U <= MPE)";
      break;
    case Outcome::kNoResponse:
      r.detail = std::to_string(unanswered) + " of " + std::to_string(r.cases.size()) +
                 " requests unanswered by the deadline " + engine::format_rfc3339(c.deadline_ns);
      break;
    default:
      if (r.reason == "out_of_tolerance")
        r.detail = cid + "e = " + fmt(decisive->error) +
                   ", U = " + fmt(decisive->expanded_uncertainty) + ": |e| - U > MPE " +
                   fmt(decisive->mpe);
      else if (r.reason == "indeterminate")
        r.detail = cid + "e = " + fmt(decisive->error) +
                   ", U = " + fmt(decisive->expanded_uncertainty) +
                   ": the guard band straddles MPE " + fmt(decisive->mpe);
      else if (r.reason == "firmware_not_approved")
        r.detail = cid + "firmware " + engine::to_hex(decisive->firmware_sha256) +
                   " is not approved for this instrument";
      else
        r.detail = cid + r.reason;
  }
  sign_result(r, *config_.key);
  run.final = true;
  c.open--;
  c.counts[static_cast<size_t>(r.outcome)]++;
  switch (r.outcome) {
    case Outcome::kPassed:
      stats_.passed++;
      break;
    case Outcome::kFailed:
      stats_.failed++;
      break;
    case Outcome::kIndeterminate:
      stats_.indeterminate++;
      break;
    case Outcome::kNoResponse:
      stats_.no_response++;
      break;
  }
  std::string evidence;
  for (const CaseResult& k : r.cases)
    if (k.evidence)
      evidence += (evidence.empty() ? "" : ",") + k.evidence->source_topic + "/" +
                  std::to_string(k.evidence->source_partition) + "@" +
                  std::to_string(k.evidence->source_offset) + "#" +
                  std::to_string(k.evidence->reading_index);
  const std::vector<uint8_t> record = encode_result(r);
  audit_async("verification.result",
              {{"result_id", r.result_id},
               {"campaign_id", r.campaign_id},
               {"instrument_id", r.instrument_id},
               {"outcome", std::string(outcome_name(r.outcome))},
               {"reason", r.reason},
               {"detail", r.detail},
               {"firmware_sha256", engine::to_hex(r.firmware_sha256)},
               {"firmware_status", std::string(firmware_status_name(r.firmware_status))},
               {"certificate_id", r.certificate_id},
               {"evidence", evidence},
               {"record", engine::to_base64(record)}});
  if (c.open == 0) {
    audit_async("verification.campaign_finished", {{"campaign_id", c.id},
                                                   {"passed", std::to_string(c.counts[0])},
                                                   {"failed", std::to_string(c.counts[1])},
                                                   {"indeterminate", std::to_string(c.counts[2])},
                                                   {"no_response", std::to_string(c.counts[3])}});
    engine::log_info("verification", "campaign finished",
                     {{"campaign", c.id},
                      {"passed", std::to_string(c.counts[0])},
                      {"failed", std::to_string(c.counts[1])},
                      {"indeterminate", std::to_string(c.counts[2])},
                      {"no_response", std::to_string(c.counts[3])}});
  }
  for (const auto& fn : subscribers_) fn(r);
  if (finished != nullptr) finished->push_back(std::move(r));
}

}  // namespace assay::metrology
