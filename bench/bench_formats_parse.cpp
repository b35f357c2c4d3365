// Cost of the format parsers per record (issue 15, phase 1), next to OpenSSL's verification
// of the same record for scale: what decoding adds to the per-record budget of the batched
// verification paths. One core.
//   build/bench/assay_bench_formats_parse --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "formats/cose.hpp"
#include "formats/ocmf.hpp"
#include "formats/ocmf_check.hpp"
#include "formats/senml.hpp"
#include "formats/senml_check.hpp"

namespace {

using namespace assay::formats;

// A real KEBA KeContact P30 record and its key (tests/data/ocmf/real_records.jsonl, id
// keba-kcp30-1; SAFE-eV/transparenzsoftware, Apache-2.0).
const std::string kKeba =
    R"(OCMF|{"FV":"1.0","GI":"KEBA_KCP30","GS":"17619300","GV":"2.8.5","PG":"T32","IS":false,"IL":"NONE","IF":["RFID_NONE","OCPP_NONE","ISO15118_NONE","PLMN_NONE"],"IT":"NONE","ID":"","RD":[{"TM":"2019-08-13T10:03:15,000+0000 I","TX":"B","EF":"","ST":"G","RV":0.2596,"RI":"1-b:1.8.0","RU":"kWh"},{"TM":"2019-08-13T10:03:36,000+0000 R","TX":"E","EF":"","ST":"G","RV":0.2597,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"304502200E2F107C987A300AC1695CA89EA149A8CDFA16188AF0A33EE64B67964AA943F9022100889A72B6D65364BEA8562E7F6A0253157ACFF84FE4929A93B5964D23C4265699"})";
const char* kKebaKey =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200043aeeb45c392357820a58fdfb0857bd77ada3"
    "1585c61c430531dfa53b440afbfdd95ac887c658ea55260f808f55ca948df235c2108a0d6dc7d4ab1a5e1a7955be";

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> unhex(const char* h) {
  std::vector<uint8_t> out;
  for (; h[0] && h[1]; h += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(h, 2), nullptr, 16)));
  return out;
}

void BM_OcmfParse(benchmark::State& st) {
  OcmfRecord r;
  for (auto _ : st) {
    if (parse_ocmf(bytes(kKeba), {}, r) != OcmfError::kNone) st.SkipWithError("parse");
    benchmark::DoNotOptimize(r.readings.data());
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_OcmfParse);

void BM_OcmfParseAndCheck(benchmark::State& st) {
  OcmfRecord r;
  OcmfCheckConfig cfg;
  cfg.pagination = false;  // the same record over and over
  OcmfChecker checker(cfg);
  OcmfCheckState state;
  std::string buf;
  for (auto _ : st) {
    parse_ocmf(bytes(kKeba), {}, r);
    benchmark::DoNotOptimize(checker.check(state, r, ocmf_signer_id(r, buf)));
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_OcmfParseAndCheck);

// OpenSSL EVP, one record at a time (the reference the pipeline target is stated against).
void BM_OcmfOpenSslVerify(benchmark::State& st) {
  OcmfRecord r;
  parse_ocmf(bytes(kKeba), {}, r);
  const auto spki = unhex(kKebaKey);
  const unsigned char* p = spki.data();
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (auto _ : st) {
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    if (EVP_DigestVerify(ctx, r.signature_der().data(), r.signature_der().size(), r.payload.data(),
                         r.payload.size()) != 1)
      st.SkipWithError("verify");
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_OcmfOpenSslVerify);

// A COSE_Sign1 (EdDSA) with a 5-record CBOR SenML pack, built with libcbor's encoders.
std::vector<uint8_t> cose_senml(std::vector<uint8_t>* pack_out) {
  std::vector<uint8_t> pack(512);
  size_t n = 0;
  auto put = [&](size_t w) { n += w; };
  auto text = [&](const char* s) {
    put(cbor_encode_string_start(strlen(s), pack.data() + n, pack.size() - n));
    memcpy(pack.data() + n, s, strlen(s));
    n += strlen(s);
  };
  put(cbor_encode_array_start(5, pack.data() + n, pack.size() - n));
  for (int i = 0; i < 5; ++i) {
    put(cbor_encode_map_start(i == 0 ? 5 : 3, pack.data() + n, pack.size() - n));
    if (i == 0) {
      put(cbor_encode_negint(1, pack.data() + n, pack.size() - n));  // -2 bn
      text("urn:dev:ow:10e2073a0108006:");
      put(cbor_encode_negint(2, pack.data() + n, pack.size() - n));  // -3 bt
      put(cbor_encode_uint(1700000000, pack.data() + n, pack.size() - n));
    }
    put(cbor_encode_uint(0, pack.data() + n, pack.size() - n));
    text("current");
    put(cbor_encode_uint(6, pack.data() + n, pack.size() - n));
    put(cbor_encode_uint(static_cast<uint64_t>(i), pack.data() + n, pack.size() - n));
    put(cbor_encode_uint(2, pack.data() + n, pack.size() - n));
    put(cbor_encode_double(1.2 + i * 0.1, pack.data() + n, pack.size() - n));
  }
  pack.resize(n);
  *pack_out = pack;
  std::vector<uint8_t> m(1024);
  size_t k = 0;
  auto mput = [&](size_t w) { k += w; };
  mput(cbor_encode_tag(18, m.data() + k, m.size() - k));
  mput(cbor_encode_array_start(4, m.data() + k, m.size() - k));
  const uint8_t prot[] = {0xA2, 0x01, 0x27, 0x03, 0x18, 0x70};  // {1: -8, 3: 112}
  mput(cbor_encode_bytestring_start(sizeof prot, m.data() + k, m.size() - k));
  memcpy(m.data() + k, prot, sizeof prot);
  k += sizeof prot;
  const uint8_t unprot[] = {0xA1, 0x04, 0x43, 'k', 'i', 'd'};
  memcpy(m.data() + k, unprot, sizeof unprot);
  k += sizeof unprot;
  mput(cbor_encode_bytestring_start(pack.size(), m.data() + k, m.size() - k));
  memcpy(m.data() + k, pack.data(), pack.size());
  k += pack.size();
  mput(cbor_encode_bytestring_start(64, m.data() + k, m.size() - k));
  memset(m.data() + k, 7, 64);
  k += 64;
  m.resize(k);
  return m;
}

void BM_CoseParseAndToBeSigned(benchmark::State& st) {
  std::vector<uint8_t> pack;
  const auto msg = cose_senml(&pack);
  CoseMessage m;
  std::vector<uint8_t> tbs(2048);
  for (auto _ : st) {
    if (parse_cose(msg, {}, m) != CoseError::kNone) st.SkipWithError("cose");
    benchmark::DoNotOptimize(cose_build_to_be_signed(m, tbs));
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_CoseParseAndToBeSigned);

void BM_SenmlCborParse5(benchmark::State& st) {
  std::vector<uint8_t> pack;
  cose_senml(&pack);
  SenmlPack p;
  for (auto _ : st) {
    if (parse_senml_cbor(pack, {}, p) != SenmlError::kNone) st.SkipWithError("senml");
    benchmark::DoNotOptimize(p.records.data());
  }
  st.SetItemsProcessed(st.iterations() * 5);  // readings
}
BENCHMARK(BM_SenmlCborParse5);

void BM_SenmlJsonParse5(benchmark::State& st) {
  const std::string json =
      R"([{"bn":"urn:dev:ow:10e2073a0108006:","bt":1700000000,"n":"current","t":0,"v":1.2},{"n":"current","t":1,"v":1.3},{"n":"current","t":2,"v":1.4},{"n":"current","t":3,"v":1.5},{"n":"current","t":4,"v":1.6}])";
  SenmlPack p;
  for (auto _ : st) {
    if (parse_senml_json(bytes(json), {}, p) != SenmlError::kNone) st.SkipWithError("senml");
    benchmark::DoNotOptimize(p.records.data());
  }
  st.SetItemsProcessed(st.iterations() * 5);
}
BENCHMARK(BM_SenmlJsonParse5);

}  // namespace

BENCHMARK_MAIN();
