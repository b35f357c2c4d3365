// `assay dcc inspect FILE --trust LABS.yaml [--registry SENSORS.yaml]`: what Assay takes from a
// Digital Calibration Certificate (registries/dcc.hpp, docs/dcc.md) - or why it refuses it.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "engine/config.hpp"
#include "engine/time.hpp"
#include "registries/dcc.hpp"

namespace assay::cli {

namespace {

int inspect(int argc, char** argv) {
  Args args("assay dcc inspect FILE --trust LABS.yaml [--registry SENSORS.yaml]",
            "Imports one DCC XML document as the calibration registry would and prints what\n"
            "Assay takes from it: the certificate fields (correction, expanded uncertainty with\n"
            "coverage factor and probability, validity, range, MPE, conformity), each with the\n"
            "XML path and line it came from, the calibration table, and the signature that\n"
            "verified. The XMLDSig signature is verified against the trust list (X.509 labs);\n"
            "nothing the document references is fetched. Exit 0 if the DCC is accepted, 1 if it\n"
            "is refused (the file, XML path and reason are printed), 2 on a usage error.");
  args.positional("FILE", "DCC XML file")
      .option("trust", "trust list (YAML) with the lab's X.509 certificate (alg: X509)")
      .option("registry", "identity registry: the sensor's unit (values are converted to it)");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  if (!args.has("trust")) {
    std::fprintf(stderr,
                 "error: --trust is required (a DCC is only read once its signature "
                 "verifies)\n");
    return kExitUsage;
  }
  std::shared_ptr<const registries::TrustList> trust;
  std::shared_ptr<const registries::IdentityRegistry> identity;
  try {
    std::vector<std::string> refused;
    trust = registries::load_trust_list(args.get("trust"), refused);
    for (const auto& r : refused)
      std::fprintf(stderr, "warning: trust list entry refused: %s\n", r.c_str());
    if (args.has("registry")) {
      registries::RegistryLoadReport rep;
      identity = registries::load_identity_registry(args.get("registry"), rep);
    }
  } catch (const engine::ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitUsage;
  }
  const std::string path = args.get("FILE");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const auto o = registries::import_dcc(ss.str(), path, *trust, identity.get(), true);
  if (!o.import) {
    std::printf("REFUSED %s: %s\n",
                std::string(registries::cert_refusal_name(o.refused->reason)).c_str(),
                o.refused->message.c_str());
    return kExitFailure;
  }
  const registries::DccImport& im = *o.import;
  const auto& c = im.cert;
  std::printf("ACCEPTED %s (DCC %s)\n", path.c_str(), im.schema_version.c_str());
  std::printf("signature: %s, lab key '%s' of lab '%s' (%s)%s\n", im.signature_method.c_str(),
              c.lab_key_id.c_str(), c.lab_id.c_str(), im.signer_subject.c_str(),
              im.signing_time_ns != 0
                  ? (", signed " + engine::format_rfc3339(im.signing_time_ns)).c_str()
                  : "");
  std::printf("\n%-22s %-40s %s\n", "field", "value", "from");
  for (const auto& t : im.taken)
    std::printf("%-22s %-40s %s:%ld\n", t.field.c_str(), t.value.c_str(), t.xpath.c_str(), t.line);
  std::printf("\nuncertainty form: %s\ncorrection: %s (largest residual %.6g %s)\n",
              im.uncertainty_form.c_str(), im.correction_method.c_str(), im.fit_residual,
              c.unit.c_str());
  std::printf("\n%14s %14s %14s %8s %8s %14s\n", "indicated", "reference", "u", "k", "p",
              "corrected");
  for (const auto& p : im.points) {
    double y = c.correction.offset + c.correction.gain * p.indicated;
    double xp = p.indicated;
    for (double a : c.correction.poly) {
      xp *= p.indicated;
      y += a * xp;
    }
    std::printf("%14.6g %14.6g %14.6g %8.4g %8.4g %14.6g\n", p.indicated, p.reference,
                p.standard_uncertainty, p.coverage_factor, p.coverage_probability, y);
  }
  return kExitOk;
}

}  // namespace

int cmd_dcc(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "inspect") == 0) return inspect(argc - 1, argv + 1);
  std::fprintf(argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)
                   ? stdout
                   : stderr,
               "usage: assay dcc inspect FILE --trust LABS.yaml [--registry SENSORS.yaml]\n"
               "  inspect   what Assay takes from a Digital Calibration Certificate (DCC XML)\n");
  return argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)
             ? kExitOk
             : kExitUsage;
}

}  // namespace assay::cli
