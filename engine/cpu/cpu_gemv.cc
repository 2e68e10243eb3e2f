#include "engine/cpu/cpu_gemv.h"

#include <immintrin.h>

namespace infini::cpu {

bool gemv_bf16_supported() {
  static const bool supported = __builtin_cpu_supports("avx512bf16");
  return supported;
}

namespace {

#define INFINI_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

// The lanes of a 32-value chunk starting at c that lie inside the row.
INFINI_BF16 inline __mmask32 lanes(int64_t c, int64_t k) {
  const int64_t left = k - c;
  return left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << left) - 1);
}

INFINI_BF16 inline __m512bh load(const uint16_t* p, __mmask32 mask) {
  return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, p));
}

// Rows r .. r+3: four independent accumulation chains share each x load.
INFINI_BF16 void four_rows(const uint16_t* w, const uint16_t* x, int64_t k, float* out) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t c = 0; c < k; c += 32) {
    const __mmask32 m = lanes(c, k);
    const __m512bh b = load(x + c, m);
    a0 = _mm512_dpbf16_ps(a0, load(w + c, m), b);
    a1 = _mm512_dpbf16_ps(a1, load(w + k + c, m), b);
    a2 = _mm512_dpbf16_ps(a2, load(w + 2 * k + c, m), b);
    a3 = _mm512_dpbf16_ps(a3, load(w + 3 * k + c, m), b);
  }
  out[0] = _mm512_reduce_add_ps(a0);
  out[1] = _mm512_reduce_add_ps(a1);
  out[2] = _mm512_reduce_add_ps(a2);
  out[3] = _mm512_reduce_add_ps(a3);
}

INFINI_BF16 float one_row(const uint16_t* w, const uint16_t* x, int64_t k) {
  __m512 a = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; c += 32) {
    const __mmask32 m = lanes(c, k);
    a = _mm512_dpbf16_ps(a, load(w + c, m), load(x + c, m));
  }
  return _mm512_reduce_add_ps(a);
}

}  // namespace

void gemv_bf16(const uint16_t* w, const uint16_t* x, const float* bias, float* y, int64_t n,
               int64_t k) {
  const int64_t blocks = n / 4;
#pragma omp parallel for schedule(static) if (n * k > (int64_t{1} << 16))
  for (int64_t b = 0; b < blocks; ++b) four_rows(w + b * 4 * k, x, k, y + b * 4);
  for (int64_t r = blocks * 4; r < n; ++r) y[r] = one_row(w + r * k, x, k);
  if (bias != nullptr) {
    for (int64_t r = 0; r < n; ++r) y[r] += bias[r];
  }
}

}  // namespace infini::cpu
