#include "fuzz/fuzz_util.hpp"

#include <fstream>
#include <sstream>

namespace assay::fuzz {

std::string read_source_file(const std::string& relative) {
  std::ifstream f(std::string(ASSAY_SOURCE_DIR) + "/" + relative, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot read %s/%s\n", ASSAY_SOURCE_DIR, relative.c_str());
    std::abort();
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace assay::fuzz
