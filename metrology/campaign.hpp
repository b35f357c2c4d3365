#pragma once
/// \file Remote verification campaigns (docs/metrology-cloud.md): a pipeline service that runs
/// a verification plan — at each scheduled start it issues one signed test-case request per
/// instrument and case on the command topic of the instrument's group — and matches the
/// responses the `verification` operator hands it against the open requests: each accepted
/// response decides one case (the calibration check with the certificate in force, then the
/// plan's reference and MPE under the guard-banded rule); when every case of an instrument is
/// decided, or its deadline passes, the instrument's e-verification result is final, signed,
/// and recorded in the audit log. Responses to unknown requests, for another instrument, late
/// or duplicated ones are refused with a reason and never counted.
///
/// Threads: one scheduler thread (issues requests, writes audit events); the matching runs on
/// the pipeline's serial stage under a mutex held for microseconds.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connectors/kafka_common.hpp"
#include "engine/audit_log.hpp"
#include "engine/reject.hpp"
#include "engine/service.hpp"
#include "engine/signing_key.hpp"
#include "metrology/plan.hpp"
#include "metrology/protocol.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_store.hpp"

namespace assay::wire {
struct Reading;
}

namespace assay::metrology {

/// Where requests go: one topic per instrument group.
class RequestPublisher {
 public:
  virtual ~RequestPublisher() = default;
  /// Connects; false with a message if it cannot (the pipeline does not start).
  virtual bool start(const std::vector<std::string>& topics, std::string* error) = 0;
  /// Queues one request (`key` = the instrument id); false with a message if it cannot.
  virtual bool publish(const std::string& topic, const std::string& key,
                       std::span<const uint8_t> record, std::string* error) = 0;
  /// Waits (bounded) until what was queued is delivered; false if something was not.
  virtual bool flush(int timeout_ms) = 0;
  /// Disconnects (idempotent).
  virtual void stop() = 0;
  /// For logs, e.g. "kafka:broker:9092".
  virtual std::string describe() const = 0;
};

/// A Kafka producer per command topic (idempotent, acks=all; the topics must exist).
std::unique_ptr<RequestPublisher> make_kafka_publisher(connectors::KafkaClientSettings settings);
/// A framed record file of requests (offline runs and tests).
std::unique_ptr<RequestPublisher> make_file_publisher(std::string path);

/// Requests kept in memory (tests): every published record.
class MemoryPublisher final : public RequestPublisher {
 public:
  /// One published request.
  struct Message {
    std::string topic, key;
    std::vector<uint8_t> record;
  };
  bool start(const std::vector<std::string>&, std::string*) override { return true; }
  bool publish(const std::string& topic, const std::string& key, std::span<const uint8_t> record,
               std::string*) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back({topic, key, {record.begin(), record.end()}});
    return true;
  }
  bool flush(int) override { return true; }
  void stop() override {}
  std::string describe() const override { return "memory"; }
  /// What was published so far.
  std::vector<Message> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Message> messages_;
};

/// Settings of a CampaignService.
struct CampaignConfig {
  VerificationPlan plan;
  std::shared_ptr<const engine::EngineKey> key;         ///< signs requests and results (required)
  std::unique_ptr<RequestPublisher> publisher;          ///< required
  std::string topic_prefix = "assay.verification.";     ///< command topic = prefix + group id
  std::shared_ptr<registries::IdentityStore> identity;  ///< required
  std::shared_ptr<registries::CalibrationStore>
      calibration;                          ///< optional (no certificate: indeterminate)
  std::shared_ptr<engine::AuditLog> audit;  ///< optional
  std::string pipeline_name;
  std::string instance_id;
  /// Finished campaigns whose request ids are remembered (late/duplicate vs unknown).
  size_t retain_campaigns = 16;
  /// Refused responses kept per instrument and campaign (more are counted, not listed).
  size_t max_refusals = 16;
  /// False: the scheduler thread issues nothing by itself (tests call issue_campaign()).
  bool schedule = true;
};

/// What the operator hands over for a reading that carries a request_id.
struct ResponseView {
  const wire::Reading* reading = nullptr;  ///< the decoded reading (its signature verified)
  Evidence evidence;
};

/// What became of a response.
enum class Disposition : uint8_t {
  kAccepted,         ///< decided a case
  kUnknownRequest,   ///< names no request of a known campaign
  kWrongInstrument,  ///< the request was for another instrument
  kLate,             ///< after the deadline
  kDuplicate,        ///< the case was already answered
  kMalformed,        ///< not a ReferenceCheck reading
};

/// The reject code of a refused disposition (kNone for kAccepted).
engine::RejectCode reject_code_of(Disposition d);

/// Counts of the campaigns so far (for the register and the demo).
struct CampaignStats {
  uint64_t campaigns = 0, requests = 0, responses_accepted = 0, responses_refused = 0;
  uint64_t passed = 0, failed = 0, indeterminate = 0, no_response = 0;
  uint64_t publish_failures = 0;
};

/// The campaign service (an engine::Service owned by the pipeline).
class CampaignService final : public engine::Service {
 public:
  /// Throws std::invalid_argument without key, publisher or identity store.
  explicit CampaignService(CampaignConfig config);
  ~CampaignService() override;

  std::string describe() const override;
  bool start(std::string* error) override;
  void stop() override;

  /// Issues one campaign of the plan now (the scheduler does this at the scheduled times);
  /// returns its id. Thread-safe.
  std::string issue_campaign(int64_t now_ns);
  /// A response (a reading with a request_id whose signature verified), processed at
  /// `now_ns`; results that became final are appended to `finished` (signed).
  Disposition on_response(const ResponseView& response, int64_t now_ns,
                          std::vector<Result>* finished);
  /// A reading that names a request but was refused before (bad signature, wrong key ...):
  /// noted on the request's result if the request is known (never counted).
  void on_refused(const wire::Reading& reading, std::string_view reason, const Evidence& evidence);
  /// Finalises every instrument whose deadline passed before `now_ns` (no response in time).
  void expire(int64_t now_ns, std::vector<Result>* finished);
  /// Called with every final result (from the thread that finalised it), e.g. the register.
  void subscribe(std::function<void(const Result&)> fn);
  /// Counts so far.
  CampaignStats stats() const;
  /// The plan.
  const VerificationPlan& plan() const { return config_.plan; }
  /// The signing key's public half (for verifiers).
  const std::array<uint8_t, 32>& public_key() const { return config_.key->public_key(); }
  /// Command topic of a group.
  std::string topic_of(const PlanGroup& g) const;

 private:
  struct Pending;
  struct InstrumentRun;
  struct Campaign;
  void loop();
  void finalize_locked(Campaign& c, InstrumentRun& run, int64_t now_ns,
                       std::vector<Result>* finished);
  void audit_async(std::string type, engine::AuditDetails details);
  void evict_locked();

  CampaignConfig config_;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<Campaign>> campaigns_;
  /// request id -> (campaign, instrument run, case index)
  std::unordered_map<std::string, Pending> requests_;
  int64_t next_deadline_ = INT64_MAX;
  CampaignStats stats_;
  std::vector<std::function<void(const Result&)>> subscribers_;
  // Scheduler thread and its queue of audit events.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::vector<std::pair<std::string, engine::AuditDetails>> audit_queue_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  uint32_t issued_campaigns_ = 0;
  int64_t started_ns_ = 0;
};

}  // namespace assay::metrology
