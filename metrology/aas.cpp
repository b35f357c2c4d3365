#include "metrology/aas.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/time.hpp"

namespace assay::metrology {

namespace {

using json = nlohmann::ordered_json;

// IDTA 02006-2-0 (Digital Nameplate) and IDTA 02008-1-1 (Time Series Data) semantic ids.
constexpr const char* kNameplate = "https://admin-shell.io/zvei/nameplate/2/0/Nameplate";
constexpr const char* kUriOfTheProduct = "0173-1#02-AAY811#001";
constexpr const char* kManufacturerName = "0173-1#02-AAO677#002";
constexpr const char* kProductDesignation = "0173-1#02-AAW338#001";
constexpr const char* kContactInformation =
    "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/ContactInformation";
constexpr const char* kCompany = "0173-1#02-AAW001#001";
constexpr const char* kSerialNumber = "0173-1#02-AAM556#002";
constexpr const char* kYearOfConstruction = "0173-1#02-AAP906#001";
constexpr const char* kFirmwareVersion = "0173-1#02-AAM985#002";
constexpr const char* kCountryOfOrigin = "0173-1#02-AAO259#004";
constexpr const char* kMarkings = "0173-1#01-AGZ673#001";
constexpr const char* kMarking = "0173-1#01-AHD206#001";
constexpr const char* kMarkingName =
    "https://admin-shell.io/zvei/nameplate/2/0/Nameplate/Markings/Marking/MarkingName";
constexpr const char* kMarkingCertificate = "0112/2///61987#ABH783#001";
constexpr const char* kMarkingFile =
    "https://admin-shell.io/zvei/nameplate/2/0/Nameplate/Markings/Marking/MarkingFile";
constexpr const char* kMarkingText =
    "https://admin-shell.io/zvei/nameplate/2/0/Nameplate/Markings/Marking/MarkingAdditionalText";
constexpr const char* kTimeSeries = "https://admin-shell.io/idta/TimeSeries/1/1";
constexpr const char* kTsMetadata = "https://admin-shell.io/idta/TimeSeries/Metadata/1/1";
constexpr const char* kTsMetaName = "https://admin-shell.io/idta/TimeSeries/Metadata/Name/1/1";
constexpr const char* kTsMetaDescription =
    "https://admin-shell.io/idta/TimeSeries/Metadata/Description/1/1";
constexpr const char* kTsRecord = "https://admin-shell.io/idta/TimeSeries/Record/1/1";
constexpr const char* kTsUtcTime = "https://admin-shell.io/idta/TimeSeries/UtcTime/1/1";
constexpr const char* kTsSegments = "https://admin-shell.io/idta/TimeSeries/Segments/1/1";
constexpr const char* kTsInternal =
    "https://admin-shell.io/idta/TimeSeries/Segments/InternalSegment/1/1";
constexpr const char* kTsLinked =
    "https://admin-shell.io/idta/TimeSeries/Segments/LinkedSegment/1/1";
constexpr const char* kTsSegName = "https://admin-shell.io/idta/TimeSeries/Segment/Name/1/1";
constexpr const char* kTsRecordCount =
    "https://admin-shell.io/idta/TimeSeries/Segment/RecordCount/1/1";
constexpr const char* kTsStartTime = "https://admin-shell.io/idta/TimeSeries/Segment/StartTime/1/1";
constexpr const char* kTsEndTime = "https://admin-shell.io/idta/TimeSeries/Segment/EndTime/1/1";
constexpr const char* kTsState = "https://admin-shell.io/idta/TimeSeries/Segment/State/1/1";
constexpr const char* kTsRecords = "https://admin-shell.io/idta/TimeSeries/Records/1/1";
constexpr const char* kTsEndpoint = "https://admin-shell.io/idta/TimeSeries/Endpoint/1/1";
constexpr const char* kTsQuery = "https://admin-shell.io/idta/TimeSeries/Query/1/1";
// Assay's own concepts (value qualifiers and the measured variable).
constexpr const char* kAssayVerdict = "urn:assay:concept:verdict:1";
constexpr const char* kAssayCalibrationVerdict = "urn:assay:concept:calibration-verdict:1";
constexpr const char* kAssayValue = "urn:assay:concept:corrected-value:1";
constexpr const char* kAssayVerification = "urn:assay:concept:e-verification:1";

json global_ref(const std::string& value) {
  return {{"type", "ExternalReference"},
          {"keys", json::array({{{"type", "GlobalReference"}, {"value", value}}})}};
}

json model_ref(const std::string& submodel_id) {
  return {{"type", "ModelReference"},
          {"keys", json::array({{{"type", "Submodel"}, {"value", submodel_id}}})}};
}

json lang(const std::string& text) {
  return json::array({{{"language", "en"}, {"text", text.empty() ? "-" : text}}});
}

json property(const std::string& id_short, const char* semantic, const std::string& value_type,
              const std::string& value) {
  json p = {{"idShort", id_short}, {"modelType", "Property"}};
  if (semantic != nullptr) p["semanticId"] = global_ref(semantic);
  p["valueType"] = value_type;
  p["value"] = value;
  return p;
}

json mlp(const std::string& id_short, const char* semantic, const std::string& text) {
  return {{"idShort", id_short},
          {"modelType", "MultiLanguageProperty"},
          {"semanticId", global_ref(semantic)},
          {"value", lang(text)}};
}

json collection(const std::string& id_short, const char* semantic, json elements) {
  json c = {{"idShort", id_short}, {"modelType", "SubmodelElementCollection"}};
  if (semantic != nullptr) c["semanticId"] = global_ref(semantic);
  if (!elements.empty()) c["value"] = std::move(elements);
  return c;
}

json qualifier(const char* semantic, const std::string& type, const std::string& value) {
  return {{"semanticId", global_ref(semantic)},
          {"kind", "ValueQualifier"},
          {"type", type},
          {"valueType", "xs:string"},
          {"value", value}};
}

// xs:dateTime in UTC ("Z"), at most microseconds (what common AAS implementations parse).
std::string dt(int64_t ns) {
  std::string s = engine::format_rfc3339(ns);
  const size_t dot = s.find('.');
  if (dot != std::string::npos && s.size() - dot - 2 > 6) s = s.substr(0, dot + 7) + "Z";
  return s;
}

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The last component of a URN-like id, for the serial number ("...:sensor:000017" -> "000017").
std::string serial_of(const std::string& id) {
  const size_t colon = id.find_last_of(":/");
  return colon == std::string::npos || colon + 1 == id.size() ? id : id.substr(colon + 1);
}

}  // namespace

std::string aas_environment_json(const AasInstrument& in, const std::vector<AasRecord>& records,
                                 const AasOptions& opt) {
  const std::string shell_id = opt.id_prefix + in.id;
  const std::string nameplate_id = shell_id + "/submodel/nameplate";
  const std::string series_id = shell_id + "/submodel/timeseries";

  // ---- Digital Nameplate (IDTA 02006-2-0) ----
  json np = json::array();
  np.push_back(property("URIOfTheProduct", kUriOfTheProduct, "xs:string", in.id));
  np.push_back(mlp("ManufacturerName", kManufacturerName, opt.nameplate.manufacturer_name));
  np.push_back(mlp("ManufacturerProductDesignation", kProductDesignation,
                   opt.nameplate.product_designation +
                       (in.quantity.empty() ? "" : " (" + in.quantity + ", " + in.unit + ")")));
  np.push_back(collection(
      "ContactInformation", kContactInformation,
      json::array({mlp("Company", kCompany,
                       in.owner.empty() ? opt.nameplate.manufacturer_name : in.owner)})));
  np.push_back(property("SerialNumber", kSerialNumber, "xs:string", serial_of(in.id)));
  np.push_back(property("YearOfConstruction", kYearOfConstruction, "xs:string",
                        opt.nameplate.year_of_construction));
  np.push_back(mlp("FirmwareVersion", kFirmwareVersion,
                   in.firmware_sha256.empty() ? "unknown" : "sha256:" + in.firmware_sha256));
  if (!opt.nameplate.country_of_origin.empty())
    np.push_back(property("CountryOfOrigin", kCountryOfOrigin, "xs:string",
                          opt.nameplate.country_of_origin));
  json markings = json::array();
  for (size_t i = 0; i < opt.nameplate.markings.size(); ++i) {
    const auto& m = opt.nameplate.markings[i];
    json el = json::array();
    el.push_back(property("MarkingName", kMarkingName, "xs:string", m.name));
    if (!m.certificate.empty())
      el.push_back(property("DesignationOfCertificateOrApproval", kMarkingCertificate, "xs:string",
                            m.certificate));
    el.push_back({{"idShort", "MarkingFile"},
                  {"modelType", "File"},
                  {"semanticId", global_ref(kMarkingFile)},
                  {"contentType", "image/png"},
                  {"value", "/aasx/Nameplate/marking_" + std::to_string(i + 1) + ".png"}});
    markings.push_back(
        collection("Marking" + std::string(i + 1 < 10 ? "0" : "") + std::to_string(i + 1), kMarking,
                   std::move(el)));
  }
  // Assay's calibration and e-verification state as a marking text: a notified body reads the
  // certificate in force and the last remote verification next to the approval markings.
  {
    json el = json::array();
    el.push_back(property("MarkingName", kMarkingName, "xs:string", "calibration"));
    el.push_back(property("DesignationOfCertificateOrApproval", kMarkingCertificate, "xs:string",
                          in.certificate_id.empty() ? "none in force" : in.certificate_id));
    el.push_back({{"idShort", "MarkingFile"},
                  {"modelType", "File"},
                  {"semanticId", global_ref(kMarkingFile)},
                  {"contentType", "application/xml"},
                  {"value", "/aasx/Calibration/certificate.xml"}});
    std::string text = in.certificate_id.empty()
                           ? "no calibration certificate in force"
                           : "valid until " + dt(in.certificate_valid_until_ns);
    text += in.verification_outcome.empty()
                ? "; never e-verified"
                : "; e-verification " + in.verification_outcome + " (" + in.verification_result_id +
                      ", " + dt(in.verification_decided_ns) + ")";
    el.push_back(property("MarkingAdditionalText01", kMarkingText, "xs:string", text));
    el.back()["qualifiers"] = json::array(
        {qualifier(kAssayVerification, "AssayEVerification",
                   in.verification_outcome.empty() ? "never" : in.verification_outcome)});
    markings.push_back(collection("MarkingCalibration", kMarking, std::move(el)));
  }
  np.push_back(collection("Markings", kMarkings, std::move(markings)));
  json nameplate = {{"modelType", "Submodel"},
                    {"id", nameplate_id},
                    {"idShort", "Nameplate"},
                    {"kind", "Instance"},
                    {"semanticId", global_ref(kNameplate)},
                    {"submodelElements", std::move(np)}};

  // ---- Time Series (IDTA 02008-1-1) ----
  json record_template =
      collection("Record", kTsRecord,
                 json::array({property("Time", kTsUtcTime, "xs:dateTime", dt(0)),
                              property("Value", kAssayValue, "xs:double", "0")}));
  json metadata = collection(
      "Metadata", kTsMetadata,
      json::array({mlp("Name", kTsMetaName, "Readings of " + in.id),
                   mlp("Description", kTsMetaDescription,
                       "Corrected values (" + (in.unit.empty() ? std::string("?") : in.unit) +
                           ") with Assay's verdict as value qualifiers"),
                   std::move(record_template)}));
  json recs = json::array();
  for (size_t i = 0; i < records.size(); ++i) {
    const AasRecord& r = records[i];
    json value = property("Value", kAssayValue, "xs:double", num(r.value));
    json q = json::array({qualifier(kAssayVerdict, "AssayVerdict", r.verdict)});
    if (!r.calibration_verdict.empty())
      q.push_back(
          qualifier(kAssayCalibrationVerdict, "AssayCalibrationVerdict", r.calibration_verdict));
    value["qualifiers"] = std::move(q);
    recs.push_back(
        collection("Record" + std::to_string(i + 1), kTsRecord,
                   json::array({property("Time", kTsUtcTime, "xs:dateTime", dt(r.time_ns)),
                                std::move(value)})));
  }
  json internal_el = json::array(
      {mlp("Name", kTsSegName, "Readings held by Assay"),
       property("RecordCount", kTsRecordCount, "xs:long", std::to_string(records.size()))});
  if (!records.empty()) {
    internal_el.push_back(
        property("StartTime", kTsStartTime, "xs:dateTime", dt(records.front().time_ns)));
    internal_el.push_back(
        property("EndTime", kTsEndTime, "xs:dateTime", dt(records.back().time_ns)));
  }
  internal_el.push_back(property("State", kTsState, "xs:string", "in progress"));
  internal_el.push_back(collection("Records", kTsRecords, std::move(recs)));
  json linked_el = json::array(
      {mlp("Name", kTsSegName, "Trusted stream"),
       property("State", kTsState, "xs:string", "in progress"),
       property("Endpoint", kTsEndpoint, "xs:string",
                opt.trusted_endpoint.empty() ? "kafka://trusted" : opt.trusted_endpoint),
       property("Query", kTsQuery, "xs:string", "key=" + in.id)});
  json segments =
      collection("Segments", kTsSegments,
                 json::array({collection("InternalSegment01", kTsInternal, std::move(internal_el)),
                              collection("LinkedSegment01", kTsLinked, std::move(linked_el))}));
  json series = {{"modelType", "Submodel"},
                 {"id", series_id},
                 {"idShort", "TimeSeries"},
                 {"kind", "Instance"},
                 {"semanticId", global_ref(kTimeSeries)},
                 {"submodelElements", json::array({std::move(metadata), std::move(segments)})}};

  // ---- the shell ----
  std::string short_id = "Instrument_" + serial_of(in.id);
  for (char& c : short_id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
  json shell = {{"modelType", "AssetAdministrationShell"},
                {"id", shell_id},
                {"idShort", short_id},
                {"assetInformation",
                 {{"assetKind", "Instance"},
                  {"globalAssetId", in.id},
                  {"specificAssetIds",
                   json::array({{{"name", "SerialNumber"}, {"value", serial_of(in.id)}}})}}},
                {"submodels", json::array({model_ref(nameplate_id), model_ref(series_id)})}};
  json env = {{"assetAdministrationShells", json::array({std::move(shell)})},
              {"submodels", json::array({std::move(nameplate), std::move(series)})}};
  return env.dump(2);
}

}  // namespace assay::metrology
