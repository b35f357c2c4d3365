#include "sim/responder.hpp"

#include <openssl/sha.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "schemas/verification_request_generated.h"
#include "sim/keys.hpp"

namespace assay::sim {

namespace {

constexpr std::string_view kAnswerNames[kAnswerCount] = {"honest", "drifted",   "wrong_firmware",
                                                         "silent", "wrong_key", "duplicate"};

void le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void lp(std::vector<uint8_t>& out, const flatbuffers::String* s) {
  const size_t n = s == nullptr ? 0 : s->size();
  le(out, n, 4);
  if (n > 0) out.insert(out.end(), s->begin(), s->end());
}

}  // namespace

std::string_view answer_name(Answer a) {
  const auto i = static_cast<size_t>(a);
  return i < kAnswerCount ? kAnswerNames[i] : std::string_view("?");
}

bool parse_answer_rate(std::string_view spec, std::array<double, kAnswerCount>& rates,
                       std::string& error) {
  const size_t eq = spec.find('=');
  double v = -1;
  if (eq != std::string_view::npos) {
    const std::string_view num = spec.substr(eq + 1);
    auto r = std::from_chars(num.data(), num.data() + num.size(), v);
    if (r.ec != std::errc() || r.ptr != num.data() + num.size()) v = -1;
  }
  if (eq == std::string_view::npos || !(v >= 0 && v <= 1)) {
    error = "--answer-fault: expected NAME=FRACTION with a fraction in [0,1], got '" +
            std::string(spec) + "'";
    return false;
  }
  const std::string_view name = spec.substr(0, eq);
  for (size_t i = 1; i < kAnswerCount; ++i) {
    if (kAnswerNames[i] == name) {
      rates[i] = v;
      return true;
    }
  }
  error = "--answer-fault: unknown answer '" + std::string(name) +
          "' (drifted, wrong_firmware, silent, wrong_key, duplicate)";
  return false;
}

std::vector<uint8_t> gateway_request_canonical_bytes(std::span<const uint8_t> record,
                                                     std::string* error) {
  std::vector<uint8_t> out;
  if (record.size() < 8 || !wire::VerificationRequestBufferHasIdentifier(record.data())) {
    *error = "not a VerificationRequest";
    return out;
  }
  flatbuffers::Verifier v(record.data(), record.size());
  if (!wire::VerifyVerificationRequestBuffer(v)) {
    *error = "malformed VerificationRequest";
    return out;
  }
  const auto* q = wire::GetVerificationRequest(record.data());
  const std::string_view domain = "assay.verification-request.v1\n";
  out.assign(domain.begin(), domain.end());
  out.push_back(q->version());
  lp(out, q->request_id());
  lp(out, q->plan_id());
  const auto* sha = q->plan_sha256();
  le(out, sha == nullptr ? 0 : sha->size(), 4);
  if (sha != nullptr) out.insert(out.end(), sha->begin(), sha->end());
  lp(out, q->campaign_id());
  lp(out, q->case_id());
  lp(out, q->instrument_id());
  lp(out, q->group());
  lp(out, q->quantity());
  lp(out, q->unit());
  uint64_t bits = 0;
  const double ref = q->reference_value();
  std::memcpy(&bits, &ref, 8);
  le(out, bits, 8);
  lp(out, q->stimulus());
  le(out, static_cast<uint64_t>(q->issued_ns()), 8);
  le(out, static_cast<uint64_t>(q->deadline_ns()), 8);
  lp(out, q->engine_key_id());
  return out;
}

Responder::Responder(std::array<uint8_t, 32> engine_public_key) : key_(engine_public_key) {}

void Responder::set_fleet(std::unordered_map<std::string, uint32_t> index,
                          std::vector<Answer> answers) {
  std::lock_guard<std::mutex> lock(mu_);
  index_ = std::move(index);
  answers_ = std::move(answers);
}

Answer Responder::answer_of(uint32_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return i < answers_.size() ? answers_[i] : Answer::kHonest;
}

bool Responder::deliver(std::span<const uint8_t> received, int64_t now_ns, std::string* why) {
  auto refuse = [&](const std::string& reason) {
    refused_++;
    if (why != nullptr) *why = reason;
    return false;
  };
  // A Kafka payload may sit at any address; FlatBuffers reads need their alignment (UBSan).
  const std::vector<uint8_t> own(received.begin(), received.end());
  const std::span<const uint8_t> record(own);
  std::string err;
  const std::vector<uint8_t> canon = gateway_request_canonical_bytes(record, &err);
  if (canon.empty()) return refuse(err);
  const auto* q = wire::GetVerificationRequest(record.data());
  if (q->version() != 1) return refuse("unknown request version");
  if (q->signature() == nullptr || q->signature()->size() != 64)
    return refuse("signature must be 64 bytes");
  uint8_t digest[32];
  SHA256(canon.data(), canon.size(), digest);
  if (!verify_signature(Alg::kEd25519, key_, {digest, 32},
                        {q->signature()->data(), q->signature()->size()}))
    return refuse("the engine's signature does not verify");
  if (q->deadline_ns() < now_ns) return refuse("past its deadline");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(q->instrument_id()->str());
  if (it == index_.end()) return refuse("not an instrument of this fleet");
  if (!seen_.emplace(q->request_id()->str(), true).second) return refuse("already seen");
  queue_[it->second].push_back({q->request_id()->str(), q->reference_value(), q->deadline_ns()});
  waiting_++;
  accepted_++;
  return true;
}

void Responder::requeue(uint32_t index, PendingRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_[index].push_back(std::move(request));
  waiting_++;
}

std::optional<PendingRequest> Responder::take(uint32_t index) {
  if (!pending()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queue_.find(index);
  if (it == queue_.end() || it->second.empty()) return std::nullopt;
  PendingRequest r = std::move(it->second.front());
  it->second.erase(it->second.begin());
  if (it->second.empty()) queue_.erase(it);
  waiting_--;
  return r;
}

}  // namespace assay::sim
