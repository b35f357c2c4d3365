// `assay verify-stream`, `assay prove`, `assay pubkey`: the consumer side of provenance
// (connectors/stream_verify.hpp, docs/provenance.md).
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/kafka_readback.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "engine/config.hpp"
#include "engine/signing_key.hpp"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

namespace {

// --public-key: 64 hex digits, or a PEM file (SubjectPublicKeyInfo as written to PREFIX.pub by
// `assay keygen --alg ed25519`).
bool load_public_key(const std::string& arg, std::array<uint8_t, 32>* out, std::string* error) {
  if (auto hex = from_hex(arg); hex && hex->size() == 32) {
    std::copy(hex->begin(), hex->end(), out->begin());
    return true;
  }
  std::ifstream in(arg, std::ios::binary);
  if (!in) {
    *error = "--public-key: neither 64 hex digits nor a readable file: " + arg;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string pem = ss.str();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  size_t len = 32;
  const bool ok = pkey != nullptr && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 &&
                  EVP_PKEY_get_raw_public_key(pkey, out->data(), &len) == 1 && len == 32;
  EVP_PKEY_free(pkey);
  if (!ok) *error = "--public-key: " + arg + " is not an Ed25519 public key PEM";
  return ok;
}

// Reads the trusted stream and the attestations from files or Kafka topics.
bool load_streams(Args& args, std::vector<connectors::StoredRecord>* trusted,
                  std::vector<connectors::StoredRecord>* atts, std::string* error) {
  if (args.has("brokers")) {
    connectors::KafkaClientSettings s;
    s.brokers = args.get("brokers");
    for (const std::string& kv : args.all("property")) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) {
        *error = "--property must be NAME=VALUE";
        return false;
      }
      s.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return connectors::read_kafka_topic(s, args.get("topic"), trusted, error) &&
           connectors::read_kafka_topic(s, args.get("attestations-topic"), atts, error);
  }
  return connectors::read_stored_file(args.get("trusted"), trusted, error) &&
         connectors::read_stored_file(args.get("attestations"), atts, error);
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

int verify_proof(const Args& args, const std::array<uint8_t, 32>& key) {
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
    std::fprintf(stderr, "assay verify-stream: %s\n", err.c_str());
    return kExitFailure;
  }
  const auto why = connectors::verify_inclusion_proof(proof, key);
  for (const auto& w : why) std::printf("{\"finding\":\"proof\",\"detail\":\"%s\"}\n", w.c_str());
  std::printf("proof of record %d:%lld (leaf %llu of %llu): %s\n", proof.partition,
              static_cast<long long>(proof.offset),
              static_cast<unsigned long long>(proof.leaf_index),
              static_cast<unsigned long long>(proof.tree_size), why.empty() ? "VALID" : "INVALID");
  return why.empty() ? kExitOk : kExitFailure;
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
      "--attestations-topic A | --proof FILE) --public-key KEY",
      "Proves that a trusted stream was not altered: recomputes every record hash, checks the\n"
      "hash chain of every chain (source partition), the chain indices, the RFC 9162 Merkle root\n"
      "and the Ed25519 signature of every checkpoint, and that checkpoint ranges are contiguous\n"
      "and cover the stream. Prints one JSON line per finding (naming partition and offset) and a\n"
      "summary. With --proof, checks one inclusion proof from `assay prove` alone.\n"
      "With --audit FILE, verifies an audit log instead (as `assay verify-audit FILE`).\n"
      "Exit status: 0 verified, 1 verification failed, 2 usage error.");
  declare_sources(args);
  args.option("public-key", "pinned engine public key: 64 hex digits or a PEM file (keygen's .pub)")
      .option("proof", "check this inclusion proof (JSON from `assay prove`) instead of a stream")
      .flag("allow-open-tail", "records after the last checkpoint are not a failure (live stream)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  std::array<uint8_t, 32> key{};
  std::string err;
  if (!args.has("public-key")) {
    std::fprintf(stderr, "error: --public-key is required\n\n%s", args.help().c_str());
    return kExitUsage;
  }
  if (!load_public_key(args.get("public-key"), &key, &err)) {
    std::fprintf(stderr, "error: %s\n", err.c_str());
    return kExitUsage;
  }
  if (args.has("proof")) return verify_proof(args, key);
  if (!valid_sources(args)) {
    std::fprintf(stderr,
                 "error: give --trusted and --attestations, or --brokers, --topic and "
                 "--attestations-topic\n\n%s",
                 args.help().c_str());
    return kExitUsage;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<connectors::StoredRecord> trusted, atts;
  if (!load_streams(args, &trusted, &atts, &err)) {
    std::fprintf(stderr, "assay verify-stream: %s\n", err.c_str());
    return kExitFailure;
  }
  const auto t1 = std::chrono::steady_clock::now();
  connectors::VerifyOptions opt;
  opt.public_key = key;
  opt.allow_open_tail = args.has("allow-open-tail");
  const connectors::VerifyReport rep = connectors::verify_stream(trusted, atts, opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double read_secs = std::chrono::duration<double>(t1 - t0).count();
  for (const auto& f : rep.findings) std::printf("%s\n", f.json().c_str());
  std::printf(
      "verify-stream: %llu records in %llu chain(s), %llu checkpoint(s): %s (%zu finding(s)); "
      "verified in %.3f s (%.0f records/s), read in %.3f s\n",
      static_cast<unsigned long long>(rep.records), static_cast<unsigned long long>(rep.chains),
      static_cast<unsigned long long>(rep.checkpoints), rep.ok() ? "VERIFIED" : "FAILED",
      rep.findings.size(), secs, secs > 0 ? rep.records / secs : 0.0, read_secs);
  return rep.ok() ? kExitOk : kExitFailure;
}

int cmd_prove(int argc, char** argv) {
  Args args(
      "assay prove (--trusted FILE --attestations FILE | --brokers B --topic T "
      "--attestations-topic A) --offset N [--partition P]",
      "Prints an RFC 9162 inclusion proof (JSON) for the trusted record at partition P,\n"
      "offset N (a record file: partition 0, offset = frame index): the record bytes, its\n"
      "leaf index, the audit path and the signed checkpoint covering it. Check it with\n"
      "`assay verify-stream --proof FILE --public-key KEY`.");
  declare_sources(args);
  args.option("offset", "offset of the record").option("partition", "partition of the record", "0");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  long long offset = -1, partition = 0;
  if (!args.has("offset") || !args.get_int("offset", offset) ||
      !args.get_int("partition", partition) || !valid_sources(args)) {
    std::fprintf(stderr, "error: %s\n\n%s",
                 args.error().empty() ? "give a stream and --offset" : args.error().c_str(),
                 args.help().c_str());
    return kExitUsage;
  }
  std::vector<connectors::StoredRecord> trusted, atts;
  std::string err;
  connectors::InclusionProof proof;
  if (!load_streams(args, &trusted, &atts, &err) ||
      !connectors::make_inclusion_proof(trusted, atts, static_cast<int32_t>(partition), offset,
                                        &proof, &err)) {
    std::fprintf(stderr, "assay prove: %s\n", err.c_str());
    return kExitFailure;
  }
  std::printf("%s\n", proof.json().c_str());
  return kExitOk;
}

int cmd_pubkey(int argc, char** argv) {
  Args args("assay pubkey KEYFILE [--key-id ID]",
            "Prints the public half of an engine signing key (the PKCS#8 PEM of `provenance.key`)\n"
            "as YAML: key_id and the raw Ed25519 public key in hex, for consumers to pin.");
  args.positional("KEYFILE", "PKCS#8 PEM Ed25519 private key")
      .option("key-id", "key id (default: derived)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  try {
    const auto key = EngineKey::load(args.get("KEYFILE"), args.get("key-id"));
    std::printf("key_id: %s\npublic_key: \"%s\"\n", key->key_id().c_str(),
                to_hex(key->public_key()).c_str());
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "assay pubkey: %s\n", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace assay::cli
