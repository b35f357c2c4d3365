#pragma once
/// \file Encoders of the instrument formats `assay simulate --format` writes: OCMF records
/// (docs/ocmf.md) and SenML packs in COSE_Sign1 / COSE_Mac0 messages (docs/senml-cose.md). The
/// CBOR is built with libcbor; the DER of ECDSA signatures with OpenSSL. Pure functions of
/// their arguments (same input, same bytes), safe to call from many threads. The simulator
/// decides the content (docs/simulator.md, "Formats"); these only write it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::sim {

/// One RD entry of an OCMF record.
struct OcmfEntry {
  int64_t time_ns = 0;       ///< TM (written in milliseconds, UTC, "+0000")
  char time_status = 'S';    ///< TM's synchronisation status (S, or U for an unsynchronised clock)
  char tx = 'C';             ///< TX: B, C or E
  int64_t register_e4 = 0;   ///< RV in units of 0.0001 kWh (written with four decimals)
};

/// The payload fields of an OCMF record the simulator varies.
struct OcmfPayloadSpec {
  std::string_view meter_serial;     ///< MS (and GS: the same, so the signer id is MS)
  std::string_view meter_firmware;   ///< MF
  std::string_view charge_point_id;  ///< CI (CT is "EVSEID")
  uint64_t pagination = 0;           ///< PG "T<n>"
  std::span<const OcmfEntry> entries;
};

/// The payload JSON (compact, fixed key order FV, GI, GS, GV, PG, MV, MM, MS, MF, IS, IF, IT,
/// CT, CI, RD; each RD entry TM, TX, RV, RI, RU, RT, EF, ST).
std::string ocmf_payload(const OcmfPayloadSpec& spec);

/// `OCMF|payload|{"SA":"ECDSA-secp256r1-SHA256","SD":"<upper-case hex of der>"}`.
std::string ocmf_record(std::string_view payload, std::span<const uint8_t> der);

/// An IEEE P1363 ECDSA signature (r||s, two equal halves) as a DER Ecdsa-Sig-Value (OpenSSL).
/// False if the input is malformed or OpenSSL fails.
bool ecdsa_p1363_to_der(std::span<const uint8_t> rs, std::vector<uint8_t>& der);

/// One SenML record of a pack.
struct SenmlEntry {
  int64_t time_ns = 0;  ///< absolute time (ns since the epoch, > 2^28 s)
  double value = 0;     ///< v
};

/// A SenML pack in CBOR (RFC 8428 §6, integer labels): the first record carries bn =
/// `base_name` and bt = whole seconds of its time; every record carries n = `name`, u = `unit`,
/// v and t = the time's offset from bt (an integer when whole seconds, else a float64 that
/// resolves to the exact nanosecond: a record whose offset would reach 2^20 s sets a new bt).
/// Empty on a libcbor failure.
std::vector<uint8_t> senml_pack_cbor(std::string_view base_name, std::string_view name,
                                     std::string_view unit, std::span<const SenmlEntry> entries);

/// The protected header's bytes (the bstr's contents): the map {1: alg, 3: 112}.
std::vector<uint8_t> cose_protected_header(int alg);

/// The bytes signed or MACed: ["Signature1" | "MAC0", protected, h'', payload] (RFC 9052
/// §4.4, §6.3).
std::vector<uint8_t> cose_to_be_signed(bool mac, std::span<const uint8_t> protected_header,
                                       std::span<const uint8_t> payload);

/// The tagged message: 18([protected, {4: kid}, payload, signature]) for COSE_Sign1, 17(...) for
/// COSE_Mac0 (tag). Empty on a libcbor failure.
std::vector<uint8_t> cose_message(bool mac, std::span<const uint8_t> protected_header,
                                  std::string_view kid, std::span<const uint8_t> payload,
                                  std::span<const uint8_t> signature);

}  // namespace assay::sim
