#pragma once
// The readings a RejectedRecord stands for: `reading_indexes` when it lists several (the
// readings of one input rejected for one reason at one stage share a record), else
// `reading_index` alone (docs/wire-contract.md).
#include <cstdint>
#include <vector>

#include "schemas/rejected_record_generated.h"

namespace assay::testing {

inline std::vector<uint32_t> rejected_readings(const wire::RejectedRecord* r) {
  if (r->reading_indexes() != nullptr && r->reading_indexes()->size() > 0)
    return {r->reading_indexes()->begin(), r->reading_indexes()->end()};
  return {r->reading_index()};
}

}  // namespace assay::testing
