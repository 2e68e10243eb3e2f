// Small vectorisable loops shared by the CPU backend's operations.
#pragma once

#include <cstdint>

namespace infini::cpu {

// float32 -> bf16, round to nearest even.
void to_bf16(const float* src, uint16_t* dst, int64_t count);
// sigma(x) = ELU(x) + 1: x + 1 for x > 0, exp(x) otherwise.
void elu_plus_one(const float* src, float* dst, int64_t count);
// In place: row = softmax(row[0 .. valid)), and 0 for row[valid .. count).
void softmax_prefix(float* row, int64_t valid, int64_t count);
// RoPE, rotate-half layout, on `heads` heads of dimension d in one row.
void rope_row(const float* src, float* dst, int64_t heads, int64_t head_dim, const float* cos,
              const float* sin);

}  // namespace infini::cpu
