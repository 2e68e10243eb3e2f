// The backends a parity test runs on, written once and instantiated per
// backend and compute dtype. The CUDA cases are always instantiated, also in
// builds without CUDA and on machines without a GPU: there they skip by name
// with the reason, so that "not run" is visible in ctest and never silent.
// Test names carry "backend_parity" (the instantiation prefix) and the
// backend ("cuda_bf16"), which is what scripts/gpu-check selects with -R.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"

namespace infini::testing {

struct BackendCase {
  std::string backend;  // "cpu" | "cuda"
  ComputeDType dtype;
};

inline std::string backend_case_name(const BackendCase& c) {
  return c.backend + "_" + compute_dtype_name(c.dtype);
}

inline void PrintTo(const BackendCase& c, std::ostream* os) { *os << backend_case_name(c); }

inline std::vector<BackendCase> all_backend_cases() {
  return {{"cpu", ComputeDType::kF32},
          {"cpu", ComputeDType::kBF16},
          {"cuda", ComputeDType::kF32},
          {"cuda", ComputeDType::kBF16}};
}

inline std::vector<BackendCase> cuda_backend_cases() {
  return {{"cuda", ComputeDType::kF32}, {"cuda", ComputeDType::kBF16}};
}

// Empty when `c` can run here, otherwise why not (for GTEST_SKIP).
inline std::string unavailable_reason(const BackendCase& c) {
  if (c.backend != "cuda") return "";
  std::string reason;
  if (cuda::device_available(&reason)) return "";
  return "CUDA backend not available: " + reason;
}

// Skips the test in SetUp() when the case's backend cannot run here.
#define INFINI_SKIP_UNLESS_AVAILABLE(backend_case)                                        \
  do {                                                                                    \
    const std::string skip_reason_ = ::infini::testing::unavailable_reason(backend_case); \
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;                              \
  } while (0)

}  // namespace infini::testing
