#pragma once
/// \file The sequential change detectors of operator `drift`, on a standardized error
/// sequence z = e / sigma (in-control: mean 0, standard deviation 1). Each detector is a
/// small trivially-copyable struct (part of the per-sensor state) with an update() that
/// returns the statistic and a level. The same code is used by the operator and by the
/// Monte-Carlo ARL tests (tests/operators/drift_quality_test.cpp).

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace assay::operators {

/// Detector level (values of wire::DriftLevel).
enum class Level : uint8_t { kNotChecked = 0, kOk = 1, kWarning = 2, kAlarm = 3 };

/// Level of a statistic `s` >= 0 against a warning and an alarm threshold.
inline Level level_of(double s, double warning, double alarm) {
  return s > alarm ? Level::kAlarm : s > warning ? Level::kWarning : Level::kOk;
}

/// Two-sided tabular CUSUM parameters (sigma units).
struct CusumParams {
  double k = 0.5;        ///< reference value (allowance), half the shift to detect fast
  double h = 5;          ///< decision interval: alarm when C+ or C- > h
  double warning = 2.5;  ///< warning when C+ or C- > warning
};

/// Two-sided tabular CUSUM: C+ = max(0, C+ + z - k), C- = max(0, C- - z - k).
struct Cusum {
  float hi = 0, lo = 0;
  /// Adds one observation; returns the signed statistic (C+ if C+ >= C-, else -C-).
  double update(double z, const CusumParams& p) {
    hi = static_cast<float>(std::max(0.0, hi + z - p.k));
    lo = static_cast<float>(std::max(0.0, lo - z - p.k));
    return hi >= lo ? hi : -static_cast<double>(lo);
  }
  /// Level of the current state.
  Level level(const CusumParams& p) const { return level_of(std::max(hi, lo), p.warning, p.h); }
};

/// EWMA parameters.
struct EwmaParams {
  double lambda = 0.2;  ///< smoothing constant, 0 < lambda <= 1
  double L = 3;         ///< alarm when |Z| > L * sigma_Z
  double warning = 2;   ///< warning when |Z| > warning * sigma_Z
  bool exact = true;    ///< time-varying sigma_Z (true) or the asymptotic one (false)
};

/// EWMA Z_t = lambda z_t + (1 - lambda) Z_{t-1}, Z_0 = 0, with
/// sigma_Z^2 = lambda / (2 - lambda) * (1 - (1 - lambda)^(2t)) (exact) or without the
/// bracket (asymptotic).
struct Ewma {
  float z = 0;
  uint32_t n = 0;
  /// Adds one observation; returns Z / sigma_Z (the standardized statistic).
  double update(double x, const EwmaParams& p) {
    z = static_cast<float>(p.lambda * x + (1 - p.lambda) * z);
    if (n < UINT32_MAX) ++n;
    return standardized(p);
  }
  /// Z / sigma_Z of the current state (0 before the first observation).
  double standardized(const EwmaParams& p) const {
    if (n == 0) return 0;
    double var = p.lambda / (2 - p.lambda);
    if (p.exact && n < 10000) var *= 1 - std::pow(1 - p.lambda, 2.0 * n);
    return var > 0 ? z / std::sqrt(var) : 0;
  }
  /// Level of the current state.
  Level level(const EwmaParams& p) const {
    return level_of(std::fabs(standardized(p)), p.warning, p.L);
  }
};

/// Page-Hinkley parameters (sigma units).
struct PageHinkleyParams {
  double delta = 0.5;    ///< magnitude of change tolerated
  double lambda = 5;     ///< alarm threshold
  double warning = 2.5;  ///< warning threshold
};

/// Two-sided Page-Hinkley test against the running mean of the sequence:
/// m_t = sum (z_i - mean_i - delta), PH+ = m_t - min m = max(0, PH+ + z - mean - delta), and
/// the mirror image for decreases.
struct PageHinkley {
  uint32_t n = 0;
  float mean = 0, up = 0, down = 0;
  /// Adds one observation; returns the signed statistic (PH+ if PH+ >= PH-, else -PH-).
  double update(double z, const PageHinkleyParams& p) {
    if (n < UINT32_MAX) ++n;
    const double m = mean + (z - mean) / n;
    mean = static_cast<float>(m);
    up = static_cast<float>(std::max(0.0, up + (z - m) - p.delta));
    down = static_cast<float>(std::max(0.0, down - (z - m) - p.delta));
    return up >= down ? up : -static_cast<double>(down);
  }
  /// Level of the current state.
  Level level(const PageHinkleyParams& p) const {
    return level_of(std::max(up, down), p.warning, p.lambda);
  }
};

}  // namespace assay::operators
