// One row of activations times a bf16 weight matrix: decode's products.
// oneDNN's matmul for M = 1 moved the weights at about 7.8 GB/s here
// (docs/benchmarks.md); dot products of whole weight rows, four rows at a
// time, stream them at more than twice that.
#pragma once

#include <cstdint>

namespace infini::cpu {

// Whether this CPU has AVX512-BF16 (gemv_bf16 may be called).
bool gemv_bf16_supported();

// y[r] = sum_c w[r * k + c] * x[c] (+ bias[r] when bias is not null), for
// r < n: w is [n, k] bf16 row-major (a Linear's weight as stored), x is k
// bf16 values; products of bf16 pairs summed in fp32. Rows go to the
// OpenMP team when the matrix is large enough to pay for it.
void gemv_bf16(const uint16_t* w, const uint16_t* x, const float* bias, float* y, int64_t n,
               int64_t k);

}  // namespace infini::cpu
