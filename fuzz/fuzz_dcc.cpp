// Fuzz target: the DCC importer (registries/dcc.*: libxml2, xmlsec1, the mapping onto a
// calibration certificate). The first byte is the policy, the rest an XML document:
//   bit 0: re-sign the document with the TEST lab's key first (tests/data/dcc/test-lab), so
//          that mutated documents get past the signature check into the mapping
//   bit 1: pass the example identity registry (unit conversion to the sensor's unit)
//   bit 2: record the XML path of every value taken (`assay dcc inspect`)
// registries::dcc_init() runs first: it replaces every libxml2 and xmlsec input callback with
// one that refuses, so neither the importer nor this harness can open a file or the network.
// Property: an import is the certificate or a refusal, and an imported certificate survives
// to_yaml() and parsing again with the same canonical bytes.
#include <libxml/parser.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <string>

#include "fuzz/fuzz_util.hpp"
#include "fuzz/fuzz_world.hpp"
#include "registries/calibration_certificate.hpp"
#include "registries/dcc.hpp"

using namespace assay;

namespace {

xmlSecKeyPtr g_lab_key = nullptr;

// Signs the document's first ds:Signature in place with the TEST lab key, allowing the same
// transforms the importer allows and same-document references only. Empty if it cannot.
std::string resign(const std::string& xml) {
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  xmlDocPtr doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr, options);
  if (doc == nullptr) return {};
  std::string out;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  xmlNodePtr sig = root != nullptr ? xmlSecFindNode(root, xmlSecNodeSignature, xmlSecDSigNs) : nullptr;
  if (sig != nullptr) {
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(nullptr);
    ctx->signKey = xmlSecKeyDuplicate(g_lab_key);
    ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
    ctx->enabledReferenceUris = static_cast<xmlSecTransformUriType>(
        xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument);
    for (auto id : {xmlSecTransformInclC14NId, xmlSecTransformInclC14N11Id,
                    xmlSecTransformExclC14NId}) {
      xmlSecDSigCtxEnableReferenceTransform(ctx, id);
      xmlSecDSigCtxEnableSignatureTransform(ctx, id);
    }
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id);
    // The class registered for the URI: after dcc_init, the importer's copy of xmlsec's own
    // (registries/dcc.cpp), which signs exactly as xmlsec's.
    xmlSecDSigCtxEnableSignatureTransform(
        ctx, xmlSecTransformIdListFindByHref(xmlSecTransformIdsGet(), xmlSecHrefEcdsaSha256,
                                             xmlSecTransformUsageSignatureMethod));
    if (xmlSecDSigCtxSign(ctx, sig) >= 0) {
      xmlChar* mem = nullptr;
      int len = 0;
      xmlDocDumpMemory(doc, &mem, &len);
      if (mem != nullptr) out.assign(reinterpret_cast<const char*>(mem), static_cast<size_t>(len));
      xmlFree(mem);
    }
    xmlSecDSigCtxDestroy(ctx);
  }
  xmlFreeDoc(doc);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  registries::dcc_init();  // first: no input callback may open anything
  (void)fuzz::trust_list();
  (void)fuzz::identity();
  const std::string key = fuzz::read_source_file("tests/data/dcc/test-lab/lab-key.pem");
  const std::string cert = fuzz::read_source_file("tests/data/dcc/test-lab/lab-cert.pem");
  g_lab_key = xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(key.data()),
                                           static_cast<xmlSecSize>(key.size()),
                                           xmlSecKeyDataFormatPem, nullptr, nullptr, nullptr);
  if (g_lab_key == nullptr ||
      xmlSecCryptoAppKeyCertLoadMemory(g_lab_key, reinterpret_cast<const xmlSecByte*>(cert.data()),
                                       static_cast<xmlSecSize>(cert.size()),
                                       xmlSecKeyDataFormatPem) < 0)
    std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  std::string xml(reinterpret_cast<const char*>(data + 1), size - 1);
  if (policy & 1) {
    std::string signed_xml = resign(xml);
    if (!signed_xml.empty()) xml = std::move(signed_xml);
  }
  (void)registries::looks_like_xml(xml);
  const auto out = registries::import_dcc(xml, "fuzz.xml", *fuzz::trust_list(),
                                          (policy & 2) ? fuzz::identity().get() : nullptr,
                                          (policy & 4) != 0);
  fuzz::check(out.import.has_value() != out.refused.has_value(), "a DCC neither loads nor is refused");
  if (std::getenv("ASSAY_FUZZ_VERBOSE") != nullptr)  // for checking seeds: what became of it
    std::fprintf(stderr, "dcc: %s\n", out.import ? out.import->cert.certificate_id.c_str()
                                                  : out.refused->message.c_str());
  if (out.import) {
    const auto& c = out.import->cert;
    const std::string yaml = registries::to_yaml({c});
    try {
      const auto again = registries::parse_certificate(
          engine::ConfigNode::load_string(yaml, "dcc.yaml").get("certificates").items().at(0));
      fuzz::check(registries::canonical_bytes(again) == registries::canonical_bytes(c),
                  "an imported DCC changes through to_yaml");
    } catch (const engine::ConfigError& e) {
      std::fprintf(stderr, "%s\n--- from ---\n%s\n", e.what(), yaml.c_str());
      fuzz::check(false, "to_yaml wrote an imported DCC that does not parse");
    }
  }
  return 0;
}
