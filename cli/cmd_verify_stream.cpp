// `assay verify-stream`, `assay prove`, `assay pubkey`: the consumer side of provenance
// (connectors/stream_verify.hpp, docs/provenance.md).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "connectors/kafka_readback.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/config.hpp"
#include "engine/signed_note.hpp"
#include "engine/signing_key.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

namespace {

bool kafka_settings(Args& args, connectors::KafkaClientSettings* s, std::string* error) {
  s->brokers = args.get("brokers");
  for (const std::string& kv : args.all("property")) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      *error = "--property must be NAME=VALUE";
      return false;
    }
    s->properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return true;
}

// Reads the trusted stream and the attestations from files or Kafka topics (into memory:
// `prove` needs the chain's leaves; verification streams instead).
bool load_streams(Args& args, std::vector<connectors::StoredRecord>* trusted,
                  std::vector<connectors::StoredRecord>* atts, std::string* error) {
  if (args.has("brokers")) {
    connectors::KafkaClientSettings s;
    return kafka_settings(args, &s, error) &&
           connectors::read_kafka_topic(s, args.get("topic"), trusted, error) &&
           connectors::read_kafka_topic(s, args.get("attestations-topic"), atts, error);
  }
  return connectors::read_stored_file(args.get("trusted"), trusted, error) &&
         connectors::read_stored_file(args.get("attestations"), atts, error);
}

// Feeds the attestations, then the trusted records, to `v`, one record at a time.
bool stream_into(Args& args, connectors::StreamVerifier& v, std::string* error) {
  if (args.has("brokers")) {
    connectors::KafkaClientSettings s;
    return kafka_settings(args, &s, error) &&
           connectors::for_each_kafka_record(
               s, args.get("attestations-topic"),
               [&](int32_t p, int64_t o, std::span<const uint8_t> b) {
                 v.add_attestation(p, o, b);
               },
               error) &&
           connectors::for_each_kafka_record(
               s, args.get("topic"),
               [&](int32_t p, int64_t o, std::span<const uint8_t> b) { v.add_trusted(p, o, b); },
               error);
  }
  return connectors::for_each_stored_frame(
             args.get("attestations"),
             [&](int32_t p, int64_t o, std::span<const uint8_t> b) { v.add_attestation(p, o, b); },
             error) &&
         connectors::for_each_stored_frame(
             args.get("trusted"),
             [&](int32_t p, int64_t o, std::span<const uint8_t> b) { v.add_trusted(p, o, b); },
             error);
}

bool valid_sources(const Args& args) {
  const bool files = args.has("trusted") && args.has("attestations");
  const bool kafka = args.has("brokers") && args.has("topic") && args.has("attestations-topic");
  return files != kafka;
}

void declare_sources(Args& args) {
  args.option("trusted", "trusted record file (route trusted, type: file)")
      .option("attestations", "attestations record file (route attestations)")
      .option("brokers", "Kafka bootstrap servers (instead of files)")
      .option("topic", "Kafka trusted topic (every partition, from the beginning to the end)")
      .option("attestations-topic", "Kafka attestations topic")
      .multi("property", "librdkafka property NAME=VALUE for the Kafka reader");
}

// --witness VKEY ...: pinned cosigner keys.
bool load_witnesses(const Args& args, std::vector<NoteKey>* out, std::string* error) {
  for (const std::string& w : args.all("witness")) {
    NoteKey k;
    std::string why;
    if (!parse_vkey(w, &k, &why) || k.type != kNoteCosignature) {
      *error = "--witness " + w + ": " + (why.empty() ? "not a cosignature key (type 0x04)" : why);
      return false;
    }
    out->push_back(std::move(k));
  }
  return true;
}

int verify_proof(const Args& args, const std::array<uint8_t, 32>& key,
                 const std::vector<NoteKey>& witnesses, size_t min_witnesses) {
  std::ifstream in(args.get("proof"), std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "assay verify-stream: cannot read %s\n", args.get("proof").c_str());
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  connectors::InclusionProof proof;
  std::string err;
  if (!connectors::InclusionProof::parse(ss.str(), &proof, &err)) {
    std::fprintf(stderr, "assay verify-stream: %s: %s\n", args.get("proof").c_str(), err.c_str());
    return kExitUsage;  // not a proof at all: a usage error, not a failed verification
  }
  auto why = connectors::verify_inclusion_proof(proof, key);
  if (min_witnesses > 0) {
    // The checkpoint the proof ends at must carry the cosignatures too.
    Attestation a;
    std::string text, e;
    std::vector<NoteSignature> sigs;
    size_t n = 0;
    if (decode_attestation(proof.checkpoint, &a, &e) && split_note(a.note, &text, &sigs, &e))
      for (const auto& w : witnesses) {
        bool any = false;
        for (const auto& s : sigs) any = any || verify_note_signature(w, text, s);
        n += any ? 1 : 0;
      }
    if (n < min_witnesses)
      why.push_back("the checkpoint carries " + std::to_string(n) +
                    " valid witness cosignature(s), " + std::to_string(min_witnesses) +
                    " required");
  }
  for (const auto& w : why) {
    std::string line = "{\"finding\":\"proof\",\"detail\":\"";
    for (char c : w) line += c == '"' ? std::string("\\\"") : std::string(1, c);
    std::printf("%s\"}\n", line.c_str());
  }
  if (proof.reading_index >= 0) {
    // The reading it is about, named by the record's sensor (when the record is readable).
    std::string sensor = "?";
    flatbuffers::Verifier v(proof.record.data(), proof.record.size());
    if (proof.record.size() >= 8 && v.VerifyBuffer<wire::TrustedReading>(nullptr) &&
        wire::GetTrustedReading(proof.record.data())->sensor_id() != nullptr)
      sensor = wire::GetTrustedReading(proof.record.data())->sensor_id()->str();
    std::printf("reading %s seq %llu (reading %lld of its input record) in ", sensor.c_str(),
                static_cast<unsigned long long>(proof.reading_seq),
                static_cast<long long>(proof.reading_index));
  }
  std::printf("proof of record %d:%lld (chain %d, chain_index %lld; leaf %llu of %llu): %s\n",
              proof.partition, static_cast<long long>(proof.offset), proof.partition,
              static_cast<long long>(proof.offset),
              static_cast<unsigned long long>(proof.leaf_index),
              static_cast<unsigned long long>(proof.tree_size), why.empty() ? "VALID" : "INVALID");
  return why.empty() ? kExitOk : kExitFailure;
}

double peak_rss_mib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

}  // namespace

int cmd_verify_stream(int argc, char** argv) {
  // `verify-stream --audit FILE ...` verifies an audit log: the same as `verify-audit FILE ...`.
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) != "--audit") continue;
    std::vector<char*> rest{argv[0], argv[i + 1]};
    for (int j = 1; j < argc; ++j)
      if (j != i && j != i + 1) rest.push_back(argv[j]);
    return cmd_verify_audit(static_cast<int>(rest.size()), rest.data());
  }
  Args args(
      "assay verify-stream (--trusted FILE --attestations FILE | --brokers B --topic T "
      "--attestations-topic A | --proof FILE) --public-key KEY [--witness VKEY ... "
      "--min-witnesses N]",
      "Proves that a trusted stream was not altered: recomputes every record hash, checks the\n"
      "hash chain of every chain (source partition), the chain indices, every checkpoint's\n"
      "signature and Merkle root, forks (two signed checkpoints of one size with different\n"
      "roots), and that the checkpoints cover the stream; with --min-witnesses N, that every\n"
      "record is covered by a checkpoint N pinned witnesses cosigned. Streams the records "
      "(bounded\n"
      "memory). Prints one JSON line per finding (naming partition and offset) and a summary.\n"
      "With --proof, checks one inclusion proof from `assay prove` alone.\n"
      "With --audit FILE, verifies an audit log instead (as `assay verify-audit FILE`).\n"
      "Exit status: 0 verified, 1 verification failed, 2 usage error.");
  declare_sources(args);
  args.option("public-key", "pinned engine public key: 64 hex digits or a PEM file (keygen's .pub)")
      .option("proof", "check this inclusion proof (JSON from `assay prove`) instead of a stream")
      .multi("witness", "pinned witness cosigner key (C2SP vkey NAME+ID+KEY, type 0x04)")
      .option("min-witnesses", "valid cosignatures of distinct --witness keys each record needs",
              "0")
      .flag("allow-open-tail",
            "records after the last (witnessed) checkpoint are counted, not a failure (live "
            "stream); a chain without any checkpoint still fails");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  std::array<uint8_t, 32> key{};
  std::string err;
  if (!args.has("public-key")) {
    std::fprintf(stderr, "error: --public-key is required\n\n%s", args.help().c_str());
    return kExitUsage;
  }
  if (!parse_engine_public_key(args.get("public-key"), &key, &err)) {
    std::fprintf(stderr, "error: --public-key: %s\n", err.c_str());
    return kExitUsage;
  }
  connectors::VerifyOptions opt;
  opt.public_key = key;
  opt.allow_open_tail = args.has("allow-open-tail");
  opt.offsets_may_skip = args.has("brokers");  // Kafka offsets (transaction markers)
  long long min_w = 0;
  if (!load_witnesses(args, &opt.witnesses, &err) || !args.get_int("min-witnesses", min_w) ||
      min_w < 0 || static_cast<size_t>(min_w) > opt.witnesses.size()) {
    std::fprintf(stderr, "error: %s\n",
                 !err.empty() ? err.c_str()
                              : "--min-witnesses must be between 0 and the number of --witness "
                                "keys");
    return kExitUsage;
  }
  opt.min_witnesses = static_cast<size_t>(min_w);
  if (args.has("proof")) return verify_proof(args, key, opt.witnesses, opt.min_witnesses);
  if (!valid_sources(args)) {
    std::fprintf(stderr,
                 "error: give --trusted and --attestations, or --brokers, --topic and "
                 "--attestations-topic\n\n%s",
                 args.help().c_str());
    return kExitUsage;
  }
  const auto t0 = std::chrono::steady_clock::now();
  connectors::StreamVerifier verifier(opt);
  if (!stream_into(args, verifier, &err)) {
    std::fprintf(stderr, "assay verify-stream: %s\n", err.c_str());
    return kExitFailure;
  }
  const connectors::VerifyReport rep = verifier.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& f : rep.findings) std::printf("%s\n", f.json().c_str());
  // Which engine software wrote the records (software identification, for the auditor).
  for (const auto& [engine, n] : rep.engines)
    std::printf("engine software: %s: %llu record(s)\n", engine.c_str(),
                static_cast<unsigned long long>(n));
  std::printf(
      "verify-stream: %llu records in %llu chain(s), %llu checkpoint(s): %s (%zu finding(s)); "
      "%llu unattested, %llu intent(s), %llu witness cosignature(s)%s; read and verified in %.3f "
      "s (%.0f records/s), peak memory %.1f MiB\n",
      static_cast<unsigned long long>(rep.records), static_cast<unsigned long long>(rep.chains),
      static_cast<unsigned long long>(rep.checkpoints), rep.ok() ? "VERIFIED" : "FAILED",
      rep.findings.size(), static_cast<unsigned long long>(rep.unattested),
      static_cast<unsigned long long>(rep.intents),
      static_cast<unsigned long long>(rep.cosignatures),
      opt.min_witnesses > 0 ? (", " + std::to_string(rep.unwitnessed) + " not witnessed").c_str()
                            : "",
      secs, secs > 0 ? static_cast<double>(rep.records) / secs : 0.0, peak_rss_mib());
  return rep.ok() ? kExitOk : kExitFailure;
}

int cmd_prove(int argc, char** argv) {
  Args args(
      "assay prove (--trusted FILE --attestations FILE | --brokers B --topic T "
      "--attestations-topic A) (--offset N [--partition P] | --sensor ID --seq N)",
      "Prints an RFC 9162 inclusion proof (JSON) for the trusted record stored at partition P,\n"
      "offset N (a record file: partition 0, offset = frame index): the record bytes, its\n"
      "leaf index, the audit path and the signed checkpoint covering it (the largest one; its\n"
      "witness-cosigned copy when there is one). The proof names the record by its chain and\n"
      "chain_index. A reading whose signed bytes its batch's first reading carries (trusted\n"
      "stream v2) gets that carrier's proof nested as \"carrier\", so the proof alone lets its\n"
      "signature be re-verified. With --sensor and --seq instead of --offset, the proof is of\n"
      "the record standing for that reading (its own record, or the grouped record of its\n"
      "batch: engine.trusted_records: grouped) and names the reading (reading_index,\n"
      "reading_seq), which the check confirms. Check it with `assay verify-stream --proof FILE\n"
      "--public-key KEY`.");
  declare_sources(args);
  args.option("offset", "offset of the record")
      .option("partition", "partition of the record", "0")
      .option("sensor", "sensor id of the reading to prove (with --seq, instead of --offset)")
      .option("seq", "seq of the reading to prove (with --sensor)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  long long offset = -1, partition = 0, seq = -1;
  const bool by_reading = args.has("sensor") || args.has("seq");
  const bool usage_ok = by_reading ? args.has("sensor") && args.has("seq") && !args.has("offset") &&
                                         args.get_int("seq", seq) && seq >= 0 &&
                                         !args.get("sensor").empty()
                                   : args.has("offset") && args.get_int("offset", offset) &&
                                         args.get_int("partition", partition);
  if (!usage_ok || !valid_sources(args)) {
    std::fprintf(stderr, "error: %s\n\n%s",
                 args.error().empty()
                     ? "give a stream and either --offset or --sensor with --seq (seq >= 0)"
                     : args.error().c_str(),
                 args.help().c_str());
    return kExitUsage;
  }
  std::vector<connectors::StoredRecord> trusted, atts;
  std::string err;
  connectors::InclusionProof proof;
  if (!load_streams(args, &trusted, &atts, &err)) {
    std::fprintf(stderr, "assay prove: %s\n", err.c_str());
    return kExitFailure;
  }
  connectors::ReadingLocation at;
  if (by_reading) {
    const auto found =
        connectors::find_reading(trusted, args.get("sensor"), static_cast<uint64_t>(seq));
    if (found.empty()) {
      std::fprintf(stderr, "assay prove: no trusted record stands for reading %s seq %lld\n",
                   args.get("sensor").c_str(), seq);
      return kExitFailure;
    }
    // More than one: the same reading trusted twice (a replay the pipeline let through); prove
    // the first, and say so.
    if (found.size() > 1)
      std::fprintf(stderr,
                   "assay prove: reading %s seq %lld is in %zu trusted records; proving "
                   "the first (partition %d, offset %lld)\n",
                   args.get("sensor").c_str(), seq, found.size(), found[0].partition,
                   static_cast<long long>(found[0].offset));
    at = found[0];
    partition = at.partition;
    offset = at.offset;
  }
  if (!connectors::make_inclusion_proof(trusted, atts, static_cast<int32_t>(partition), offset,
                                        &proof, &err)) {
    std::fprintf(stderr, "assay prove: %s\n", err.c_str());
    return kExitFailure;
  }
  if (by_reading) {
    proof.reading_index = at.reading_index;
    proof.reading_seq = static_cast<uint64_t>(seq);
  }
  std::printf("%s\n", proof.json().c_str());
  return kExitOk;
}

int cmd_pubkey(int argc, char** argv) {
  Args args("assay pubkey KEYFILE [--key-id ID] [--origin ORIGIN ...]",
            "Prints the public half of an engine signing key (the PKCS#8 PEM of `provenance.key`)\n"
            "as YAML: key_id and the raw Ed25519 public key in hex, for consumers to pin; with\n"
            "--origin, the C2SP verifier key (vkey) of each log origin, for witnesses\n"
            "(`witnessctl add-key`) and note verifiers (origin = PREFIX/<partition>,\n"
            "docs/provenance.md).");
  args.positional("KEYFILE", "PKCS#8 PEM Ed25519 private key")
      .option("key-id", "key id (default: derived)")
      .multi("origin", "log origin to print the verifier key of (e.g. assay/factory/0)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  try {
    const auto key = EngineKey::load(args.get("KEYFILE"), args.get("key-id"));
    std::printf("key_id: %s\npublic_key: \"%s\"\n", key->key_id().c_str(),
                to_hex(key->public_key()).c_str());
    const auto origins = args.all("origin");
    if (!origins.empty()) std::printf("vkeys:\n");
    for (const std::string& o : origins) {
      if (!valid_note_key_name(o)) {
        std::fprintf(stderr, "assay pubkey: --origin %s: not a valid key name\n", o.c_str());
        return kExitUsage;
      }
      const NoteKey k{o, note_key_id(o, kNoteEd25519, key->public_key()), kNoteEd25519,
                      key->public_key()};
      std::printf("  - \"%s\"\n", format_vkey(k).c_str());
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "assay pubkey: %s\n", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace assay::cli
