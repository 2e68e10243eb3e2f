// The ceiling the engine is measured against: what a plain oneDNN bf16 GEMM
// reaches on this machine, measured in the same run as the benchmark.
#pragma once

#include <string>
#include <vector>

namespace infini::tool {

struct GemmMeasurement {
  std::string shape;  // "MxKxN layout"
  double gflops = 0.0;
};

// Times a few large bf16 products (plain and oneDNN-chosen weight layouts)
// for about `seconds_each` each; the best is the peak.
std::vector<GemmMeasurement> measure_gemm_peak(double seconds_each);

}  // namespace infini::tool
