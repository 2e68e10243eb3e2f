#include "engine/cpu/cpu_kernels.h"

#include <cmath>
#include <cstring>

namespace infini::cpu {

#define INFINI_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

// exp(x) by range reduction x = n ln2 + r, |r| <= ln2/2, and a degree-6
// polynomial for e^r (Cephes' expf coefficients), then scaling by 2^n in the
// exponent bits. Branch-free so that loops over it vectorise.
inline float exp_inline(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round to nearest by adding and removing 1.5 * 2^23 (no libm call, so the
  // loop stays vectorisable; valid because |x log2 e| < 2^22).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += static_cast<int32_t>(n) << 23;
  std::memcpy(&p, &bits, sizeof p);
  return p;
}

}  // namespace

float vector_exp(float x) { return x < -87.0f ? 0.0f : exp_inline(x); }

INFINI_CLONES void to_bf16(const float* src, uint16_t* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &src[i], sizeof bits);
    // Activations and weights are finite here; NaN handling lives in float_convert.h.
    bits += 0x7fffu + ((bits >> 16) & 1u);
    dst[i] = static_cast<uint16_t>(bits >> 16);
  }
}

INFINI_CLONES void elu_plus_one(const float* src, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float x = src[i];
    const float e = exp_inline(x);
    dst[i] = x > 0.0f ? x + 1.0f : e;
  }
}

INFINI_CLONES void silu_mul(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + exp_inline(-g)) * up[i];
  }
}

INFINI_CLONES void softmax_prefix(float* row, int64_t valid, int64_t count) {
  float max = row[0];
#pragma omp simd reduction(max : max)
  for (int64_t i = 1; i < valid; ++i) max = row[i] > max ? row[i] : max;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < valid; ++i) {
    const float e = exp_inline(row[i] - max);
    row[i] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < valid; ++i) row[i] *= inv;
  for (int64_t i = valid; i < count; ++i) row[i] = 0.0f;
}

INFINI_CLONES void rope_row(const float* src, float* dst, int64_t heads, int64_t head_dim,
                            const float* cos, const float* sin) {
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

INFINI_CLONES float dot_product(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

INFINI_CLONES void add_scaled(float* __restrict out, const float* __restrict x, float scale,
                              int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] += scale * x[i];
}

}  // namespace infini::cpu
