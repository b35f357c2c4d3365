#include "connectors/builtin.hpp"

#include "connectors/audit_kafka.hpp"
#include "connectors/file_sink.hpp"
#include "connectors/file_source.hpp"
#include "connectors/file_state.hpp"
#include "connectors/kafka_sink.hpp"
#include "connectors/kafka_source.hpp"
#include "connectors/kafka_state.hpp"
#include "connectors/ocmf_format.hpp"
#include "connectors/senml_cose_format.hpp"
#include "connectors/witness_client.hpp"

namespace assay::connectors {

void register_builtin_connectors(engine::Registries& r) {
  r.sources["file"] = &FileSource::from_config;
  r.sinks["file"] = &FileSink::from_config;
  r.sinks["jsonl"] = &FileSink::from_config;
  r.sources["kafka"] = &KafkaSource::from_config;
  r.sinks["kafka"] = &KafkaSink::from_config;
  r.state_store = [](const engine::ConfigNode* state, const engine::ConfigNode& input,
                     engine::BuildContext& ctx) -> std::unique_ptr<engine::StateStore> {
    if (state != nullptr && state->get_string("type", "") == "file") {
      if (ctx.engine.exactly_once)
        state->get("type").fail(
            "with processing.guarantee: exactly_once the state is kept in Kafka (type: kafka)");
      return FileStateStore::from_config(*state, ctx);
    }
    return KafkaStateStore::from_config(state, input, ctx);
  };
  r.formats["ocmf"] = &OcmfFormat::from_config;
  r.formats["senml-cose"] = &SenmlCoseFormat::from_config;
  r.audit_publisher = &KafkaAuditPublisher::from_config;
  r.witness = [](engine::WitnessOptions options, engine::Metrics* metrics) {
    return std::make_shared<WitnessClient>(std::move(options), metrics);
  };
}

}  // namespace assay::connectors
