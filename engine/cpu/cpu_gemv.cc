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

// R weight rows (consecutive, k apart) times X activation rows (ldx apart):
// R x X independent accumulation chains, each weight and activation chunk
// loaded once per chunk. Every chain is the same whatever R and X are (zero,
// then the 32-value chunks in order, then one reduction), which is what
// makes a batched product bitwise equal to a lone one.
template <int R, int X>
INFINI_BF16 void tile(const uint16_t* w, const uint16_t* x, int64_t ldx, int64_t k, float* y,
                      int64_t ldy) {
  // Unrolled, so that the accumulators live in registers.
  __m512 acc[R][X];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int i = 0; i < X; ++i) acc[r][i] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < k; c += 32) {
    const __mmask32 m = lanes(c, k);
    __m512bh xs[X];
#pragma GCC unroll 4
    for (int i = 0; i < X; ++i) xs[i] = load(x + i * ldx + c, m);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512bh wr = load(w + r * k + c, m);
#pragma GCC unroll 4
      for (int i = 0; i < X; ++i) acc[r][i] = _mm512_dpbf16_ps(acc[r][i], wr, xs[i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int i = 0; i < X; ++i) y[i * ldy + r] = _mm512_reduce_add_ps(acc[r][i]);
  }
}

// R weight rows against all m activation rows, four at a time (4 x 4
// accumulators, 4 activation chunks and a weight chunk fit the 32 registers).
// The R rows (R * k * 2 bytes) stay in L1 while the groups after the first
// reread them.
template <int R>
INFINI_BF16 void rows_times_batch(const uint16_t* w, const uint16_t* x, int64_t ldx, int64_t m,
                                  int64_t k, float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) tile<R, 4>(w, x + i * ldx, ldx, k, y + i * ldy, ldy);
  switch (m - i) {
    case 3: tile<R, 3>(w, x + i * ldx, ldx, k, y + i * ldy, ldy); break;
    case 2: tile<R, 2>(w, x + i * ldx, ldx, k, y + i * ldy, ldy); break;
    case 1: tile<R, 1>(w, x + i * ldx, ldx, k, y + i * ldy, ldy); break;
    default: break;
  }
}

}  // namespace

void gemv_bf16_rows(const uint16_t* w, const uint16_t* x, int64_t ldx, int64_t m,
                    const float* bias, float* y, int64_t ldy, int64_t n, int64_t k) {
  const int64_t blocks = n / 4;
#pragma omp parallel for schedule(static) if (n * k * m > (int64_t{1} << 16))
  for (int64_t b = 0; b < blocks; ++b) {
    rows_times_batch<4>(w + b * 4 * k, x, ldx, m, k, y + b * 4, ldy);
  }
  for (int64_t r = blocks * 4; r < n; ++r) rows_times_batch<1>(w + r * k, x, ldx, m, k, y + r, ldy);
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = 0; r < n; ++r) y[i * ldy + r] += bias[r];
    }
  }
}

void gemv_bf16(const uint16_t* w, const uint16_t* x, const float* bias, float* y, int64_t n,
               int64_t k) {
  gemv_bf16_rows(w, x, k, 1, bias, y, n, n, k);
}

}  // namespace infini::cpu
