// A few rows of activations times a bf16 weight matrix: decode's products,
// one row per sequence of a decode batch. oneDNN's matmul for M = 1 moved the
// weights at about 7.8 GB/s here (docs/benchmarks.md); dot products of whole
// weight rows, four rows at a time, stream them at more than twice that, and
// a batch reads each weight row once for all of its sequences.
#pragma once

#include <cstdint>

namespace infini::cpu {

// Whether this CPU has AVX512-BF16 (the functions below may be called).
bool gemv_bf16_supported();

// y[r] = sum_c w[r * k + c] * x[c] (+ bias[r] when bias is not null), for
// r < n: w is [n, k] bf16 row-major (a Linear's weight as stored), x is k
// bf16 values; products of bf16 pairs summed in fp32. Rows go to the
// OpenMP team when the matrix is large enough to pay for it.
void gemv_bf16(const uint16_t* w, const uint16_t* x, const float* bias, float* y, int64_t n,
               int64_t k);

// The same for m rows of activations at once: x is [m, k] with rows ldx
// apart, y is [m, n] with rows ldy apart. Each weight row is read once for
// all m, and every y[i][r] is bitwise the value gemv_bf16 gives for row i
// alone (the same products summed in the same order), so a sequence decoded
// in a batch gets exactly the logits it gets on its own.
void gemv_bf16_rows(const uint16_t* w, const uint16_t* x, int64_t ldx, int64_t m,
                    const float* bias, float* y, int64_t ldy, int64_t n, int64_t k);

}  // namespace infini::cpu
