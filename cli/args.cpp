#include "cli/args.hpp"

#include <cstdio>
#include <cstdlib>

#include "engine/signing_key.hpp"

namespace assay::cli {

Args::Args(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

Args& Args::option(const std::string& name, const std::string& help,
                   std::optional<std::string> default_value) {
  specs_.push_back({name, help, std::move(default_value), false, false});
  return *this;
}

Args& Args::multi(const std::string& name, const std::string& help) {
  specs_.push_back({name, help, std::nullopt, false, true});
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, help, std::nullopt, true, false});
  return *this;
}

Args& Args::positional(const std::string& name, const std::string& help, bool optional) {
  positionals_.push_back({name, help, optional});
  return *this;
}

bool Args::parse(int argc, char** argv) {
  size_t pos_index = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      return true;
    }
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const Spec* spec = nullptr;
      for (const auto& s : specs_)
        if (s.name == name) spec = &s;
      if (spec == nullptr) {
        error_ = "unknown option --" + name;
        return false;
      }
      if (spec->is_flag) {
        if (inline_value) {
          error_ = "option --" + name + " takes no value";
          return false;
        }
        values_[name].push_back("true");
        continue;
      }
      std::string v;
      if (inline_value) {
        v = *inline_value;
      } else if (i + 1 < argc) {
        v = argv[++i];
      } else {
        error_ = "option --" + name + " needs a value";
        return false;
      }
      if (!spec->is_multi) values_[name].clear();
      values_[name].push_back(v);
      continue;
    }
    if (pos_index >= positionals_.size()) {
      error_ = "unexpected argument '" + a + "'";
      return false;
    }
    values_[positionals_[pos_index++].name].push_back(a);
  }
  for (size_t p = pos_index; p < positionals_.size(); ++p) {
    if (!positionals_[p].optional) {
      error_ = "missing argument " + positionals_[p].name;
      return false;
    }
  }
  return true;
}

std::string Args::help() const {
  std::string out = "usage: " + usage_ + "\n\n" + description_ + "\n";
  if (!positionals_.empty()) {
    out += "\narguments:\n";
    for (const auto& p : positionals_) out += "  " + p.name + "\t" + p.help + "\n";
  }
  out += "\noptions:\n";
  for (const auto& s : specs_) {
    out += "  --" + s.name + (s.is_flag ? "" : " VALUE") + "\t" + s.help;
    if (s.def) out += " (default: " + *s.def + ")";
    if (s.is_multi) out += " (repeatable)";
    out += "\n";
  }
  out += "  --help\tshow this help\n";
  return out;
}

std::string Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end() && !it->second.empty())
    return it->second.back();
  for (const auto& s : specs_)
    if (s.name == name && s.def) return *s.def;
  return {};
}

bool Args::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool Args::get_int(const std::string& name, long long& out) {
  const std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || end == nullptr || *end != '\0' || errno != 0) {
    error_ = "--" + name + ": not an integer: '" + v + "'";
    return false;
  }
  return true;
}

bool Args::get_double(const std::string& name, double& out) {
  const std::string v = get(name);
  char* end = nullptr;
  out = std::strtod(v.c_str(), &end);
  if (v.empty() || end == nullptr || *end != '\0') {
    error_ = "--" + name + ": not a number: '" + v + "'";
    return false;
  }
  return true;
}

int handle_parse(Args& args, int argc, char** argv) {
  if (!args.parse(argc, argv)) {
    std::fprintf(stderr, "error: %s\n\n%s", args.error().c_str(), args.help().c_str());
    return kExitUsage;
  }
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return kExitOk;
  }
  return -1;
}

int pinned_engine_keys(const Args& args, const char* what,
                       std::vector<std::array<uint8_t, 32>>* keys) {
  for (const std::string& k : args.all("public-key")) {
    std::string err;
    if (!engine::parse_engine_public_key(k, &keys->emplace_back(), &err)) {
      std::fprintf(stderr, "error: %s\n", err.c_str());
      return kExitUsage;
    }
  }
  if (keys->empty()) {
    std::fprintf(stderr, "error: --public-key is required (%s)\n", what);
    return kExitUsage;
  }
  return -1;
}

}  // namespace assay::cli
