// The other ceiling: decode of one sequence reads every weight once per
// token, so it is bound by how fast this machine streams memory. Measured in
// the same run as the benchmark, like the GEMM peak (gemm_peak.h).
#pragma once

#include <cstdint>

namespace infini::tool {

// GB/s of summing a `bytes` buffer (far larger than the caches) with the
// OpenMP team, best of `repeats` passes after one to fault the pages in.
double measure_read_bandwidth(int64_t bytes, int repeats);

}  // namespace infini::tool
