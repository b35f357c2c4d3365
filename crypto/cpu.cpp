#include "crypto/cpu.hpp"

namespace assay::crypto {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.bmi2 = __builtin_cpu_supports("bmi2");
    f.avx512f = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    f.avx512ifma = f.avx512f && __builtin_cpu_supports("avx512ifma");
    unsigned eax = 7, ebx = 0, ecx = 0, edx = 0;
    __asm__("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    f.sha_ni = (ebx >> 29) & 1u;
    return f;
  }();
  return features;
}

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::kAuto: return "auto";
    case Backend::kOpenSSL: return "openssl";
    case Backend::kPortable: return "portable";
    case Backend::kAvx2: return "avx2";
    case Backend::kAvx512: return "avx512";
  }
  return "unknown";
}

bool parse_backend(std::string_view name, Backend& out) {
  for (Backend b : {Backend::kAuto, Backend::kOpenSSL, Backend::kPortable, Backend::kAvx2,
                    Backend::kAvx512}) {
    if (backend_name(b) == name) {
      out = b;
      return true;
    }
  }
  return false;
}

bool backend_supported(Backend b) {
  const CpuFeatures& f = cpu_features();
  switch (b) {
    case Backend::kAuto:
    case Backend::kOpenSSL:
    case Backend::kPortable: return true;
    case Backend::kAvx2: return f.avx2 && f.bmi2;
    case Backend::kAvx512: return f.avx512ifma;
  }
  return false;
}

std::vector<Backend> supported_backends() {
  std::vector<Backend> out;
  for (Backend b : {Backend::kOpenSSL, Backend::kPortable, Backend::kAvx2, Backend::kAvx512}) {
    if (backend_supported(b)) out.push_back(b);
  }
  return out;
}

}  // namespace assay::crypto
