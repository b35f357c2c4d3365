#pragma once
/// \file The `assay` subcommands. Each takes argv with argv[0] = the subcommand name and
/// returns the process exit code (0 ok, 1 negative result, 2 usage/config error).

namespace assay::cli {

/// `assay run PIPELINE.yaml`: runs a pipeline until its input ends or SIGTERM/SIGINT.
int cmd_run(int argc, char** argv);
/// `assay lint PIPELINE.yaml`: validates a pipeline without running it.
int cmd_lint(int argc, char** argv);
/// `assay keygen`: creates Ed25519 / ECDSA P-256 key pairs and HMAC secrets.
int cmd_keygen(int argc, char** argv);
/// `assay simulate`: a fleet of signed sensors with injected faults.
int cmd_simulate(int argc, char** argv);
/// `assay demo`: the embedded-Kafka demo (simulated fleet -> example pipeline).
int cmd_demo(int argc, char** argv);
/// `assay inspect FILE`: decodes any Assay record file to JSON lines.
int cmd_inspect(int argc, char** argv);
/// `assay verify-audit FILE --public-key K`: verifies a hash-chained, signed audit log.
int cmd_verify_audit(int argc, char** argv);
/// `assay verify-stream`: verifies a trusted stream against its signed checkpoints.
int cmd_verify_stream(int argc, char** argv);
/// `assay prove`: an RFC 9162 inclusion proof for one trusted record.
int cmd_prove(int argc, char** argv);
/// `assay dcc inspect FILE --trust LABS`: what Assay takes from a DCC (docs/dcc.md).
int cmd_dcc(int argc, char** argv);
/// `assay state reset PIPELINE.yaml`: deletes a pipeline's durable operator state (audited).
int cmd_state(int argc, char** argv);
/// `assay pubkey KEYFILE`: the public key and key id of an engine signing key.
int cmd_pubkey(int argc, char** argv);
/// `assay verify-results FILE --public-key K`: checks e-verification results offline.
int cmd_verify_results(int argc, char** argv);
/// `assay aas export`: Asset Administration Shells from a register snapshot.
int cmd_aas(int argc, char** argv);

}  // namespace assay::cli
