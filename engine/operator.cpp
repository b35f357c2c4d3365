#include "engine/operator.hpp"

namespace assay::engine {

void OperatorRegistry::add(std::string name, OperatorFactory factory) {
  factories_[std::move(name)] = std::move(factory);
}

const OperatorFactory* OperatorRegistry::find(std::string_view name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> OperatorRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : factories_) out.push_back(k);
  return out;
}

}  // namespace assay::engine
