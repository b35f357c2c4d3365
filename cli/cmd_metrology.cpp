// `assay verify-results` (offline check of e-verification results) and `assay aas export`
// (Asset Administration Shells from a register snapshot): docs/metrology-cloud.md.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "engine/bytes.hpp"
#include "engine/files.hpp"
#include "engine/framing.hpp"
#include "engine/signed_bytes.hpp"
#include "engine/signing_key.hpp"
#include "engine/time.hpp"
#include "engine/trusted_group.hpp"
#include "metrology/aas.hpp"
#include "metrology/results_verify.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

int cmd_verify_results(int argc, char** argv) {
  Args args("assay verify-results FILE --public-key K [--audit AUDIT.log] [--quiet]",
            "Checks e-verification results (the records of route `verifications`, a framed\n"
            "record file) offline: each decodes, is signed by a pinned engine key, each test\n"
            "case's outcome follows from its numbers under the guard-banded (or simple) decision\n"
            "rule, the result's outcome and reason follow from its cases, no result and no\n"
            "response is counted twice; with --audit, each result is the one the audit log\n"
            "recorded. Exit 0 if everything checks, 1 if not, 2 on a usage error.");
  args.positional("FILE", "file of VerificationResult records")
      .multi("public-key", "pinned engine public key: 64 hex chars, or a .pub PEM / hex file")
      .option("audit", "the audit log: every result must be the one it recorded")
      .flag("quiet", "print only findings and the verdict");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  std::vector<std::array<uint8_t, 32>> keys;
  if (int rc = pinned_engine_keys(args, "the engine key results are signed with", &keys); rc >= 0) return rc;
  const std::vector<std::string> files = {args.get("FILE")};
  std::vector<std::vector<uint8_t>> records;
  bool framing_ok = true;
  for (const std::string& path : files) {
    FrameReader reader(UINT32_MAX);
    if (!reader.open(path)) {
      std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
      return kExitUsage;
    }
    for (;;) {
      std::vector<uint8_t> rec;
      uint32_t len = 0;
      uint64_t declared = 0;
      const FrameStatus st = reader.next(rec, len, declared);
      if (st == FrameStatus::kEnd) break;
      if (st != FrameStatus::kOk) {
        std::printf(
            "FAIL framing: %s: truncated or garbled frame at byte %llu; nothing after it is read\n",
            path.c_str(), static_cast<unsigned long long>(reader.frame_position()));
        framing_ok = false;
        break;
      }
      records.push_back(std::move(rec));
    }
  }
  std::vector<std::vector<uint8_t>> audit;
  if (args.has("audit")) {
    std::string err;
    if (!metrology::results_from_audit_log(args.get("audit"), &audit, &err)) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      return kExitUsage;
    }
  }
  const metrology::ResultsReport rep =
      metrology::verify_results(records, keys, args.has("audit") ? &audit : nullptr);
  if (!args.has("quiet")) {
    for (const metrology::Result& r : rep.results) {
      std::string evidence;
      for (const auto& c : r.cases)
        if (c.evidence)
          evidence += " " + c.case_id + "@" + c.evidence->source_topic + "/" +
                      std::to_string(c.evidence->source_partition) + ":" +
                      std::to_string(c.evidence->source_offset);
      std::printf("%s: %s (%s) campaign %s, %zu case(s), certificate %s, firmware %s%s\n",
                  r.instrument_id.c_str(), std::string(metrology::outcome_name(r.outcome)).c_str(),
                  r.reason.c_str(), r.campaign_id.c_str(), r.cases.size(),
                  r.certificate_id.empty() ? "none" : r.certificate_id.c_str(),
                  std::string(metrology::firmware_status_name(r.firmware_status)).c_str(),
                  evidence.empty() ? "" : (", evidence" + evidence).c_str());
    }
  }
  for (const auto& f : rep.findings)
    std::printf("FAIL %s: position %zu: %s\n", f.code.c_str(), f.position, f.message.c_str());
  std::string counts;
  for (const auto& [o, n] : rep.by_outcome)
    counts += (counts.empty() ? "" : ", ") + std::string(metrology::outcome_name(o)) + " " +
              std::to_string(n);
  const bool ok = rep.ok() && framing_ok;
  if (records.empty()) std::printf("FAIL: no results\n");
  std::printf("%s: %zu result(s) (%s), %zu finding(s)\n", ok ? "ok" : "FAILED", rep.results.size(),
              counts.c_str(), rep.findings.size() + (framing_ok ? 0 : 1));
  return ok ? kExitOk : kExitFailure;
}

namespace {

// The reading a TrustedReading carries (the released one, else reading `index` of its signed
// bytes: its own or its carrier's, engine/signed_bytes.hpp, verified once per record).
const wire::Reading* reading_of(const wire::TrustedReading* t,
                                const engine::SignedReadings& signed_readings, uint32_t index) {
  if (t->reading() != nullptr) return t->reading();
  return signed_readings.get(index);
}

std::string file_name_of(const std::string& id) {
  std::string s = id;
  for (char& c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      c = '_';
  return s + ".aas.json";
}

}  // namespace

int cmd_aas(int argc, char** argv) {
  Args args(
      "assay aas export --snapshot REGISTER.jsonl --out DIR [options]",
      "Writes one Asset Administration Shell (IDTA-01001 V3.0 JSON environment) per\n"
      "instrument of a register snapshot (the `instrument_register` operator's `snapshot`\n"
      "file): the Digital Nameplate (IDTA 02006-2-0) and a TimeSeries (IDTA 02008-1-1) whose\n"
      "internal segment holds the instrument's last readings from --trusted (with Assay's\n"
      "verdict as value qualifiers) and whose linked segment points at --endpoint.");
  args.positional("ACTION", "export")
      .option("snapshot", "the register snapshot (JSON lines)")
      .option("out", "directory to write DIR/<instrument>.aas.json into")
      .option("trusted", "a trusted stream file (framed TrustedReadings) for the records")
      .option("records", "most records per instrument from --trusted", "100")
      .multi("instrument", "export only this instrument (repeatable)")
      .option("endpoint", "the trusted topic for the linked segment", "kafka://trusted")
      .option("id-prefix", "prefix of the shell ids", "urn:assay:aas:")
      .option("manufacturer", "ManufacturerName of the nameplate", "unknown")
      .multi("marking", "NAME=CERTIFICATE marking of the nameplate (e.g. M=DE-M-PTB-0001)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  if (args.get("ACTION") != "export") {
    std::fprintf(stderr, "error: unknown action '%s' (export)\n", args.get("ACTION").c_str());
    return kExitUsage;
  }
  if (!args.has("snapshot") || !args.has("out")) {
    std::fprintf(stderr, "error: --snapshot and --out are required\n");
    return kExitUsage;
  }
  long long max_records = 0;
  if (!args.get_int("records", max_records) || max_records < 0 || max_records > 100000) {
    std::fprintf(stderr, "error: --records must be in 0..100000\n");
    return kExitUsage;
  }
  metrology::AasOptions opt;
  opt.id_prefix = args.get("id-prefix");
  opt.trusted_endpoint = args.get("endpoint");
  opt.nameplate.manufacturer_name = args.get("manufacturer");
  for (const std::string& m : args.all("marking")) {
    const size_t eq = m.find('=');
    opt.nameplate.markings.push_back(
        {m.substr(0, eq), eq == std::string::npos ? std::string() : m.substr(eq + 1)});
  }
  const std::vector<std::string> only_list = args.all("instrument");
  const std::set<std::string> only(only_list.begin(), only_list.end());
  // Records per instrument from the trusted stream (the last --records of each).
  std::map<std::string, std::vector<metrology::AasRecord>> records;
  if (args.has("trusted")) {
    engine::SignedBytesResolver resolver;  // readings of a batch refer to its first one
    std::vector<engine::TrustedEntry> entries;
    for (const auto& rec : read_frame_file(args.get("trusted"))) {
      flatbuffers::Verifier v(rec.data(), rec.size());
      if (rec.size() < 8 || !wire::TrustedReadingBufferHasIdentifier(rec.data()) ||
          !wire::VerifyTrustedReadingBuffer(v))
        continue;
      const auto* t = wire::GetTrustedReading(rec.data());
      engine::SignedBytesResolver::Missing missing{};
      const std::span<const uint8_t> sb = resolver.resolve(*t, &missing);
      std::string bad;
      if (t->sensor_id() == nullptr || !engine::trusted_entries(*t, &entries, &bad)) continue;
      const engine::SignedReadings signed_readings(sb);
      for (engine::TrustedEntry& e : entries) {  // one, or a grouped record's readings
        const wire::Reading* rd = reading_of(t, signed_readings, e.reading_index);
        if (rd == nullptr) continue;
        engine::derive_uncorrected(e, *rd);
        metrology::AasRecord r;
        r.time_ns = rd->time_ns();
        r.value = e.corrected_value;
        r.verdict = "trusted";
        if (e.calibration_verdict != wire::CalibrationVerdict::NotChecked)
          r.calibration_verdict = wire::EnumNameCalibrationVerdict(e.calibration_verdict);
        auto& list = records[t->sensor_id()->str()];
        list.push_back(std::move(r));
        if (list.size() > static_cast<size_t>(max_records)) list.erase(list.begin());
      }
    }
  }
  std::ifstream in(args.get("snapshot"));
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", args.get("snapshot").c_str());
    return kExitUsage;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.get("out"), ec);
  std::string line;
  size_t written = 0, lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::fprintf(stderr, "error: %s:%zu: not a JSON object\n", args.get("snapshot").c_str(),
                   lineno);
      return kExitFailure;
    }
    if (j.contains("assay_register_snapshot")) continue;  // the summary line
    metrology::AasInstrument a;
    a.id = j.value("id", "");
    if (a.id.empty() || (!only.empty() && only.count(a.id) == 0)) continue;
    a.owner = j.value("owner", "");
    a.quantity = j.value("quantity", "");
    a.unit = j.value("unit", "");
    if (j.contains("measuring_range") && j["measuring_range"].is_object()) {
      const auto& mr = j["measuring_range"];
      if (mr.contains("min") && mr["min"].is_number()) a.range_min = mr["min"].get<double>();
      if (mr.contains("max") && mr["max"].is_number()) a.range_max = mr["max"].get<double>();
    }
    if (j.contains("firmware") && j["firmware"].is_object()) {
      const auto& fw = j["firmware"];
      if (fw.contains("seen") && fw["seen"].is_string())
        a.firmware_sha256 = fw["seen"].get<std::string>();
      a.firmware_status = fw.value("status", "");
    }
    if (j.contains("calibration") && j["calibration"].is_object()) {
      const auto& c = j["calibration"];
      a.certificate_id = c.value("certificate_id", "");
      if (c.contains("valid_until") && c["valid_until"].is_string())
        a.certificate_valid_until_ns =
            parse_rfc3339(c["valid_until"].get<std::string>()).value_or(0);
    }
    if (j.contains("verification") && j["verification"].is_object()) {
      const auto& v = j["verification"];
      a.verification_outcome = v.value("outcome", "");
      a.verification_result_id = v.value("result_id", "");
      if (v.contains("decided") && v["decided"].is_string())
        a.verification_decided_ns = parse_rfc3339(v["decided"].get<std::string>()).value_or(0);
    }
    const auto it = records.find(a.id);
    const std::string text = metrology::aas_environment_json(
        a, it == records.end() ? std::vector<metrology::AasRecord>{} : it->second, opt);
    const std::string path = (std::filesystem::path(args.get("out")) / file_name_of(a.id)).string();
    std::string err;
    if (!write_file(path, text + "\n", 0644, Overwrite::kReplace, err)) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      return kExitFailure;
    }
    ++written;
  }
  std::printf("aas export: %zu shell(s) written to %s\n", written, args.get("out").c_str());
  return written > 0 ? kExitOk : kExitFailure;
}

}  // namespace assay::cli
