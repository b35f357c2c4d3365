#include "registries/certificate_sources.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "engine/config.hpp"
#include "engine/files.hpp"
#include "engine/time.hpp"
#include "engine/tsan.hpp"
#include "registries/dcc.hpp"

namespace assay::registries {

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool certificate_name(std::string_view n) {
  if (n.empty() || n[0] == '.') return false;
  for (std::string_view ext : {".xml", ".yaml", ".yml", ".json"})
    if (n.size() > ext.size() && n.substr(n.size() - ext.size()) == ext) return true;
  return false;
}

// Certificate file names of a directory, sorted; throws if it cannot be listed.
std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    throw engine::ConfigError(
        dir, 0, 0, "",
        std::string("cannot list the certificates directory: ") + std::strerror(errno));
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (!certificate_name(e->d_name)) continue;
    // A regular file, or a link to one (stat follows it); the directory entry's type saves the
    // stat where the file system states it.
    if (e->d_type == DT_REG) {
      names.emplace_back(e->d_name);
      continue;
    }
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK) continue;
    const std::string p = dir + "/" + e->d_name;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Reads a whole file, at most `limit` bytes (+1 to tell that it is larger). False on error.
bool read_file(const std::string& path, size_t limit, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0)
    out.reserve(std::min(static_cast<size_t>(st.st_size), limit + 1));
  char buf[1 << 16];
  while (out.size() <= limit) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

void take_outcome(DccOutcome&& o, std::vector<CalibrationCertificate>& certs,
                  std::vector<RefusedCertificate>& refused) {
  if (o.import) {
    certs.push_back(std::move(o.import->cert));
  } else if (o.refused) {
    refused.push_back(std::move(*o.refused));
  }
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

bool is_xml_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 && looks_like_xml(std::string_view(buf, static_cast<size_t>(n)));
}

std::vector<CalibrationCertificate> load_dcc_file(const std::string& path, const TrustList& trust,
                                                  CertificatesLoadReport& report,
                                                  const IdentityRegistry* identity) {
  const int64_t t0 = engine::monotonic_ns();
  std::string xml, error;
  if (!read_file(path, kDccMaxBytes, xml, error))
    throw engine::ConfigError(path, 0, 0, "", "cannot read: " + error);
  std::vector<CalibrationCertificate> certs;
  take_outcome(import_dcc(xml, path, trust, identity), certs, report.refused);
  report.loaded += certs.size();
  report.parse_seconds += static_cast<double>(engine::monotonic_ns() - t0) * 1e-9;
  return certs;
}

std::vector<CalibrationCertificate> load_certificates_dir(const std::string& dir,
                                                          const TrustList& trust,
                                                          CertificatesLoadReport& report,
                                                          const IdentityRegistry* identity) {
  const int64_t t0 = engine::monotonic_ns();
  const std::vector<std::string> names = list_dir(dir);
  struct PerFile {
    std::vector<CalibrationCertificate> certs;
    std::vector<RefusedCertificate> refused;
    double verify_seconds = 0;
  };
  std::vector<PerFile> files(names.size());
  // In parallel, runs of consecutive files (up to kDccBatch): each file on its own (DCC: parse
  // + XMLDSig processing + mapping; YAML: a whole file with its own batched verification),
  // then the ECDSA P-256 SignatureValues of the run's DCCs in one batch (complete_dcc_signatures).
  constexpr size_t kDccBatch = 128;
  const size_t run = std::clamp<size_t>(names.size() / 16, 1, kDccBatch);
  engine::tsan::parallel_for((names.size() + run - 1) / run, [&](size_t r) {
    const size_t begin = r * run, end = std::min(names.size(), begin + run);
    std::vector<DccOutcome> dccs;
    std::vector<size_t> dcc_file;
    dccs.reserve(end - begin);
    std::string data, error;
    for (size_t i = begin; i < end; ++i) {
      const std::string path = dir + "/" + names[i];
      PerFile& f = files[i];
      data.clear();
      if (!read_file(path, kDccMaxBytes, data, error)) {
        f.refused.push_back({CertRefusal::kInvalid, "", "", path + ": cannot read: " + error});
        continue;
      }
      if (looks_like_xml(data)) {
        dccs.push_back(import_dcc(data, path, trust, identity, false, DccVerifyMode::kDeferred));
        dcc_file.push_back(i);
        continue;
      }
      try {
        CertificatesLoadReport rep;
        f.certs = load_certificates_file(path, trust, rep, identity);
        f.refused = std::move(rep.refused);
        f.verify_seconds = rep.verify_seconds;
      } catch (const engine::ConfigError& e) {
        f.refused.push_back({CertRefusal::kInvalid, "", "", e.what()});
      }
    }
    complete_dcc_signatures(dccs);
    for (size_t k = 0; k < dccs.size(); ++k)
      take_outcome(std::move(dccs[k]), files[dcc_file[k]].certs, files[dcc_file[k]].refused);
  });
  std::vector<CalibrationCertificate> out;
  std::unordered_set<std::string> ids;
  double verify = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    PerFile& f = files[i];
    for (auto& r : f.refused) report.refused.push_back(std::move(r));
    verify += f.verify_seconds;
    for (auto& c : f.certs) {
      if (!ids.insert(c.certificate_id).second) {
        report.refused.push_back({CertRefusal::kInvalid, c.certificate_id, c.sensor_id,
                                  dir + "/" + names[i] + ": duplicate certificate_id '" +
                                      c.certificate_id +
                                      "' (the one from the earlier file is kept)"});
        continue;
      }
      out.push_back(std::move(c));
    }
  }
  report.loaded = out.size();
  report.parse_seconds = static_cast<double>(engine::monotonic_ns() - t0) * 1e-9 - verify;
  report.verify_seconds = verify;
  return out;
}

int64_t certificates_stamp(const std::string& path) {
  if (!is_directory(path)) return engine::file_mtime_ns(path);
  uint64_t h = 0x51ed270b27a3f4d1ULL;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d))
    if (certificate_name(e->d_name)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    struct stat st {};
    if (::stat((path + "/" + n).c_str(), &st) != 0) continue;
    h = mix(h, std::hash<std::string>{}(n));
    h = mix(h, static_cast<uint64_t>(st.st_size));
    h = mix(h, static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ULL +
                   static_cast<uint64_t>(st.st_mtim.tv_nsec));
  }
  const auto stamp = static_cast<int64_t>(h & 0x7fffffffffffffffULL);
  return stamp == 0 ? 1 : stamp;
}

std::string certificates_sha256_hex(const std::string& path) {
  if (!is_directory(path)) return engine::file_sha256_hex(path);
  std::string listing;
  try {
    for (const auto& n : list_dir(path))
      listing += n + " " + engine::file_sha256_hex(path + "/" + n) + "\n";
  } catch (const engine::ConfigError&) {
    return {};
  }
  return engine::to_hex(engine::sha256(listing));
}

}  // namespace assay::registries
