#include "engine/decode.hpp"

#include <cstring>

#include "schemas/common_generated.h"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"

namespace assay::engine {
namespace {

constexpr flatbuffers::uoffset_t kMaxDepth = 16;
constexpr flatbuffers::uoffset_t kMaxTables = 1u << 20;

bool has_id(std::span<const uint8_t> b, const char* id) {
  return b.size() >= 8 && std::memcmp(b.data() + 4, id, 4) == 0;
}

bool aligned8(const uint8_t* p) { return (reinterpret_cast<uintptr_t>(p) & 7u) == 0; }

// The signature fields of a verified SignedReading/SignedBatch into the frame's envelope.
template <class Signed>
void set_envelope(Frame& f, const Signed* s) {
  f.signed_bytes = {s->body()->data(), s->body()->size()};
  f.key_id = s->key_id() != nullptr ? s->key_id()->string_view() : std::string_view();
  if (f.key_id.data() == nullptr) f.key_id = std::string_view("", 0);
  f.signature = s->signature() != nullptr
                    ? std::span<const uint8_t>(s->signature()->data(), s->signature()->size())
                    : std::span<const uint8_t>();
  f.alg = static_cast<uint8_t>(s->alg());
}

// Verifies the outer buffer and decodes its envelope (the one place Assay's record kinds and
// signature fields are read). Returns kNone on success.
RejectCode verify_outer(const Batch& b, Frame& f) {
  const std::span<const uint8_t> bytes{b.arena.data() + f.offset, f.size};
  f.kind = detect_kind(bytes);
  flatbuffers::Verifier v(bytes.data(), bytes.size(), kMaxDepth, kMaxTables);
  switch (f.kind) {
    case RecordKind::kUnknown:
    case RecordKind::kForeign: return RejectCode::kUnknownRoot;
    case RecordKind::kSignedReading:
      if (!wire::VerifySignedReadingBuffer(v)) return RejectCode::kVerifierFailed;
      set_envelope(f, wire::GetSignedReading(bytes.data()));
      return RejectCode::kNone;
    case RecordKind::kSignedBatch:
      if (!wire::VerifySignedBatchBuffer(v)) return RejectCode::kVerifierFailed;
      set_envelope(f, wire::GetSignedBatch(bytes.data()));
      return RejectCode::kNone;
    case RecordKind::kReading:
      if (!wire::VerifyReadingBuffer(v)) return RejectCode::kVerifierFailed;
      f.signed_bytes = bytes;
      return RejectCode::kNone;
    case RecordKind::kReadingBatch:
      if (!wire::VerifyReadingBatchBuffer(v)) return RejectCode::kVerifierFailed;
      f.signed_bytes = bytes;
      return RejectCode::kNone;
  }
  return RejectCode::kUnknownRoot;
}

// A signed body that is not a valid Reading/ReadingBatch: the signature cannot be checked
// over it, so the verdict is Malformed (the reason says which check failed).
void reject_malformed_body(Batch& b, uint32_t frame) {
  const uint32_t r = b.add_row(frame, 0, nullptr);
  b.reject_row(r, RejectCode::kBodyVerifierFailed, kDecodeStage);
  if (b.frames[frame].kind == RecordKind::kSignedReading || b.frames[frame].kind == RecordKind::kSignedBatch)
    b.row_signature[r] = static_cast<uint8_t>(wire::SignatureVerdict::Malformed);
}

}  // namespace

RecordKind detect_kind(std::span<const uint8_t> bytes) {
  if (has_id(bytes, wire::SignedReadingIdentifier())) return RecordKind::kSignedReading;
  if (has_id(bytes, wire::SignedBatchIdentifier())) return RecordKind::kSignedBatch;
  if (has_id(bytes, wire::ReadingIdentifier())) return RecordKind::kReading;
  if (has_id(bytes, wire::ReadingBatchIdentifier())) return RecordKind::kReadingBatch;
  return RecordKind::kUnknown;
}

size_t decode_batch(Batch& b, const InputFormat* format) {
  const size_t before = b.row_count();
  const uint32_t nframes = static_cast<uint32_t>(b.frames.size());
  if (format != nullptr) {
    for (uint32_t i = 0; i < nframes; ++i) {
      if (b.frames[i].pre_reject != RejectCode::kNone) {
        b.reject_row(b.add_row(i, 0, nullptr), b.frames[i].pre_reject, kDecodeStage);
        continue;
      }
      format->decode(b, i);
    }
    b.compact_selection();
    return b.row_count() - before;
  }
  // Pass 1: verify outer buffers; note bodies that are not 8-byte aligned.
  std::vector<RejectCode> verdict(nframes, RejectCode::kNone);
  size_t aux_words = 0;
  for (uint32_t i = 0; i < nframes; ++i) {
    Frame& f = b.frames[i];
    if (f.pre_reject != RejectCode::kNone) {
      verdict[i] = f.pre_reject;
      continue;
    }
    verdict[i] = verify_outer(b, f);
    if (verdict[i] == RejectCode::kNone && !aligned8(f.signed_bytes.data()))
      aux_words += (f.signed_bytes.size() + 7) / 8;
  }
  // Pass 2: copy misaligned bodies (bytes unchanged: signatures still cover them).
  if (aux_words > 0) {
    b.aux.assign(aux_words, 0);
    size_t word = 0;
    for (uint32_t i = 0; i < nframes; ++i) {
      Frame& f = b.frames[i];
      if (verdict[i] != RejectCode::kNone || aligned8(f.signed_bytes.data())) continue;
      auto* dst = reinterpret_cast<uint8_t*>(b.aux.data() + word);
      std::memcpy(dst, f.signed_bytes.data(), f.signed_bytes.size());
      f.signed_bytes = {dst, f.signed_bytes.size()};
      word += (f.signed_bytes.size() + 7) / 8;
    }
  }
  // Pass 3: verify bodies and expand rows.
  for (uint32_t i = 0; i < nframes; ++i) {
    Frame& f = b.frames[i];
    if (verdict[i] != RejectCode::kNone) {
      b.reject_row(b.add_row(i, 0, nullptr), verdict[i], kDecodeStage);
      continue;
    }
    const std::span<const uint8_t> body = f.signed_bytes;
    flatbuffers::Verifier v(body.data(), body.size(), kMaxDepth, kMaxTables);
    const bool single = f.kind == RecordKind::kSignedReading || f.kind == RecordKind::kReading;
    if (single) {
      if (!has_id(body, wire::ReadingIdentifier()) || !wire::VerifyReadingBuffer(v)) {
        reject_malformed_body(b, i);
        continue;
      }
      b.add_row(i, 0, wire::GetReading(body.data()));
      continue;
    }
    if (!has_id(body, wire::ReadingBatchIdentifier()) || !wire::VerifyReadingBatchBuffer(v)) {
      reject_malformed_body(b, i);
      continue;
    }
    const auto* readings = wire::GetReadingBatch(body.data())->readings();
    if (readings == nullptr || readings->size() == 0) {
      b.reject_row(b.add_row(i, 0, nullptr), RejectCode::kEmptyBatch, kDecodeStage);
      continue;
    }
    if (readings->size() > b.max_readings_per_record) {  // bounded expansion (issue 13 item 1)
      b.reject_row(b.add_row(i, 0, nullptr), RejectCode::kTooManyReadings, kDecodeStage);
      continue;
    }
    for (uint32_t k = 0; k < readings->size(); ++k) b.add_row(i, k, readings->Get(k));
  }
  b.compact_selection();
  return b.row_count() - before;
}

}  // namespace assay::engine
