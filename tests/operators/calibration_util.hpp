#pragma once
// Helpers for the calibration tests: labs with Ed25519 keys, signed certificates, files.
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "registries/calibration_certificate.hpp"
#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "schemas/reading_generated.h"

namespace assay::testing {

inline constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
inline constexpr int64_t kDay = 86'400'000'000'000;

struct TestLab {
  std::string lab_id, key_id;
  std::array<uint8_t, 32> pub{}, priv{};
};

inline TestLab make_lab(const std::string& lab_id) {
  TestLab l;
  l.lab_id = lab_id;
  l.key_id = lab_id + "-k1";
  crypto::ed25519_keypair(l.pub.data(), l.priv.data());
  return l;
}

inline std::string labs_yaml(const std::vector<TestLab>& labs) {
  std::string y = "labs:\n";
  for (const auto& l : labs) {
    y += "  - lab_id: " + l.lab_id + "\n    key_id: " + l.key_id +
         "\n    alg: Ed25519\n    public_key: \"" + engine::to_hex(l.pub) + "\"\n";
  }
  return y;
}

inline void sign_cert(registries::CalibrationCertificate& c, const TestLab& lab) {
  c.lab_id = lab.lab_id;
  c.lab_key_id = lab.key_id;
  const std::string canon = registries::canonical_bytes(c);
  c.signature.resize(64);
  crypto::ed25519_sign(lab.priv.data(), reinterpret_cast<const uint8_t*>(canon.data()),
                       canon.size(), c.signature.data());
}

// A temperature certificate: identity correction, U = 0.2 (k = 2), MPE in service 1.0,
// initial 0.5, range -40..150, valid [from, until].
inline registries::CalibrationCertificate make_cert(const std::string& id,
                                                    const std::string& sensor, int64_t from,
                                                    int64_t until) {
  registries::CalibrationCertificate c;
  c.certificate_id = id;
  c.sensor_id = sensor;
  c.issue_date_ns = from;
  c.valid_from_ns = from;
  c.valid_until_ns = until;
  c.quantity = "temperature";
  c.unit = "Cel";
  c.expanded_uncertainty = 0.2;
  c.coverage_factor = 2;
  c.mpe_initial = {0.5, 0};
  c.mpe_in_service = {1.0, 0};
  c.range_min = -40;
  c.range_max = 150;
  c.conformity = "pass";
  return c;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  // Write to a temporary and rename, so a polling reader never sees half a file.
  const auto tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, p);
}

inline std::filesystem::path temp_dir(const std::string& tag) {
  auto d =
      std::filesystem::temp_directory_path() / ("assay-" + tag + "-" + std::to_string(getpid()) +
                                                "-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(d);
  return d;
}

struct ReadingSpec {
  std::string sensor = "s1";
  uint64_t seq = 1;
  int64_t time_ns = kT0;
  std::string quantity = "temperature";
  std::string unit = "Cel";
  double value = 20;
  double u = 0.1;
  bool reference = false;
  double reference_value = 0;
  std::vector<uint8_t> firmware;
};

inline std::vector<uint8_t> build_reading(const ReadingSpec& s) {
  flatbuffers::FlatBufferBuilder fbb;
  auto id = fbb.CreateString(s.sensor);
  auto q = s.quantity.empty() ? 0 : fbb.CreateString(s.quantity);
  auto un = s.unit.empty() ? 0 : fbb.CreateString(s.unit);
  auto fw = s.firmware.empty() ? 0 : fbb.CreateVector(s.firmware);
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(id);
  rb.add_seq(s.seq);
  rb.add_time_ns(s.time_ns);
  if (!q.IsNull()) rb.add_quantity(q);
  if (!un.IsNull()) rb.add_unit(un);
  rb.add_value(s.value);
  rb.add_std_uncertainty(s.u);
  if (!fw.IsNull()) rb.add_firmware_sha256(fw);
  if (s.reference) {
    rb.add_kind(wire::ReadingKind::ReferenceCheck);
    rb.add_reference_value(s.reference_value);
  }
  wire::FinishReadingBuffer(fbb, rb.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace assay::testing
