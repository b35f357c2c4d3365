#include "engine/service.hpp"

namespace assay::engine {

bool ServiceSet::start_all(std::string* error) {
  for (started_ = 0; started_ < services_.size(); ++started_) {
    Service& s = *services_[started_].second;
    std::string e;
    if (!s.start(&e)) {
      if (error != nullptr) *error = s.describe() + ": " + e;
      stop_all();
      return false;
    }
  }
  return true;
}

void ServiceSet::stop_all() {
  for (size_t i = started_; i-- > 0;) services_[i].second->stop();
  started_ = 0;
}

bool ServiceSet::ready() const {
  for (const auto& [k, s] : services_)
    if (!s->ready()) return false;
  return true;
}

}  // namespace assay::engine
