// Element-wise loops of the CPU backend. Each is compiled for AVX-512, AVX2
// and baseline x86-64 (chosen at load time), and written so that the
// compiler vectorises it: the exponentials of softmax, SiLU and sigma(x)
// would otherwise cost more than all the matrix products of a segment.
#pragma once

#include <cstdint>

namespace infini::cpu {

// float32 -> bf16, round to nearest even.
void to_bf16(const float* src, uint16_t* dst, int64_t count);
// sigma(x) = ELU(x) + 1: x + 1 for x > 0, exp(x) otherwise.
void elu_plus_one(const float* src, float* dst, int64_t count);
// out = silu(gate) * up = gate / (1 + exp(-gate)) * up.
void silu_mul(const float* gate, const float* up, float* out, int64_t count);
// In place: row = softmax(row[0 .. valid)), and 0 for row[valid .. count).
void softmax_prefix(float* row, int64_t valid, int64_t count);
// RoPE, rotate-half layout, on `heads` heads of dimension d in one row.
void rope_row(const float* src, float* dst, int64_t heads, int64_t head_dim, const float* cos,
              const float* sin);

// sum of a[i] * b[i], in vector-wide partial sums (another rounding order
// than a plain loop: decode's scores over the window).
float dot_product(const float* a, const float* b, int64_t n);
// out[i] += scale * x[i] (decode's probability-weighted values).
void add_scaled(float* out, const float* x, float scale, int64_t n);

// exp(x) to within 2 ulp for x in [-87, 88], 0 below; exposed for tests.
float vector_exp(float x);

}  // namespace infini::cpu
