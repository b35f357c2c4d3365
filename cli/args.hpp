#pragma once
/// \file A small command-line parser for `assay` subcommands: `--name value`, `--name=value`,
/// boolean flags, positionals, and `--help`. Usage errors are reported, never exit().

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace assay::cli {

/// Exit codes of the `assay` tool.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure =
    1;  ///< ran, but the result is negative (e.g. verification failed)
inline constexpr int kExitUsage = 2;  ///< usage or configuration error; nothing was started

/// Declarative option parser for one subcommand.
class Args {
 public:
  /// `usage` is the first help line, e.g. "assay lint PIPELINE.yaml".
  Args(std::string usage, std::string description);

  /// Declares an option taking a value (`--name VALUE`), with help text and an optional default.
  Args& option(const std::string& name, const std::string& help,
               std::optional<std::string> default_value = std::nullopt);
  /// Declares an option that may be given several times (values collected in order).
  Args& multi(const std::string& name, const std::string& help);
  /// Declares a boolean flag (`--name`).
  Args& flag(const std::string& name, const std::string& help);
  /// Declares a positional argument (required unless `optional`).
  Args& positional(const std::string& name, const std::string& help, bool optional = false);

  /// Parses argv (argv[0] is the subcommand name). Returns false on a usage error (message in
  /// error()) and sets help_requested() when --help/-h was given.
  bool parse(int argc, char** argv);

  bool help_requested() const { return help_; }
  const std::string& error() const { return error_; }
  /// The help text.
  std::string help() const;

  /// Value of an option or positional (default if not given; empty if neither).
  std::string get(const std::string& name) const;
  /// True if the option/flag/positional was given on the command line.
  bool has(const std::string& name) const;
  /// All values of a multi option.
  std::vector<std::string> all(const std::string& name) const;
  /// Parses an option as an integer / double; false (and error()) on a malformed value.
  bool get_int(const std::string& name, long long& out);
  bool get_double(const std::string& name, double& out);

 private:
  struct Spec {
    std::string name, help;
    std::optional<std::string> def;
    bool is_flag = false, is_multi = false;
  };
  struct Pos {
    std::string name, help;
    bool optional = false;
  };
  std::string usage_, description_;
  std::vector<Spec> specs_;
  std::vector<Pos> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
  bool help_ = false;
  std::string error_;
};

/// Runs a parsed Args check for a subcommand: prints help (returns kExitOk) or the usage
/// error (returns kExitUsage); returns -1 when the subcommand should go on.
int handle_parse(Args& args, int argc, char** argv);

/// Reads every `--public-key` (pinned engine keys: 64 hex chars, or a .pub PEM / hex file) into
/// `keys`; at least one is required (`what` says what it must have signed, for the error).
/// Returns -1 to go on, or kExitUsage after printing the error.
int pinned_engine_keys(const Args& args, const char* what,
                       std::vector<std::array<uint8_t, 32>>* keys);

}  // namespace assay::cli
