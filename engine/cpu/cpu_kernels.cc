#include "engine/cpu/cpu_kernels.h"

#include <cmath>
#include <cstring>

namespace infini::cpu {

void to_bf16(const float* src, uint16_t* dst, int64_t count) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof bits);
    // Activations and weights are finite here; NaN handling lives in float_convert.h.
    bits += 0x7fffu + ((bits >> 16) & 1u);
    dst[i] = static_cast<uint16_t>(bits >> 16);
  }
}

void elu_plus_one(const float* src, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float x = src[i];
    dst[i] = x > 0.0f ? x + 1.0f : std::exp(x);
  }
}

void softmax_prefix(float* row, int64_t valid, int64_t count) {
  float max = -INFINITY;
  for (int64_t i = 0; i < valid; ++i) max = row[i] > max ? row[i] : max;
  float sum = 0.0f;
  for (int64_t i = 0; i < valid; ++i) {
    row[i] = std::exp(row[i] - max);
    sum += row[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < valid; ++i) row[i] *= inv;
  for (int64_t i = valid; i < count; ++i) row[i] = 0.0f;
}

void rope_row(const float* src, float* dst, int64_t heads, int64_t head_dim, const float* cos,
              const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float x1 = x[i], x2 = x[i + half];
      y[i] = x1 * cos[i] - x2 * sin[i];
      y[i + half] = x2 * cos[i] + x1 * sin[i];
    }
  }
}

}  // namespace infini::cpu
