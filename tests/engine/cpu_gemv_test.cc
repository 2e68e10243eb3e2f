// Decode's bf16 GEMV against a double-precision sum of the same bf16
// products, on shapes with row and column tails (rows not a multiple of 4,
// columns not of 32) and sizes on both sides of the threading threshold.
#include "engine/cpu/cpu_gemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/float_convert.h"

namespace infini::cpu {
namespace {

TEST(CpuGemvTest, EqualsTheSumOfBf16ProductsOnEveryShape) {
  if (!gemv_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Shape {
    int64_t n, k;
  };
  for (Shape s : {Shape{1, 1}, Shape{3, 31}, Shape{4, 32}, Shape{5, 33}, Shape{7, 100},
                  Shape{64, 576}, Shape{961, 577}, Shape{300, 1536}}) {
    std::vector<uint16_t> w(static_cast<size_t>(s.n * s.k)), x(static_cast<size_t>(s.k));
    for (auto& v : w) v = float_to_bf16(normal(rng));
    for (auto& v : x) v = float_to_bf16(normal(rng));
    std::vector<float> bias(static_cast<size_t>(s.n));
    for (auto& b : bias) b = normal(rng);
    for (const bool with_bias : {false, true}) {
      std::vector<float> y(static_cast<size_t>(s.n), -7.0f);
      gemv_bf16(w.data(), x.data(), with_bias ? bias.data() : nullptr, y.data(), s.n, s.k);
      for (int64_t r = 0; r < s.n; ++r) {
        double want = with_bias ? bias[r] : 0.0, scale = 0.0;
        for (int64_t c = 0; c < s.k; ++c) {
          const double p = static_cast<double>(bf16_to_float(w[r * s.k + c])) *
                           bf16_to_float(x[c]);
          want += p;
          scale += std::fabs(p);
        }
        // fp32 accumulation of k products: a few ulps of their magnitude.
        ASSERT_NEAR(y[r], want, 1e-5 * (scale + 1.0))
            << "row " << r << " of " << s.n << "x" << s.k << (with_bias ? " with bias" : "");
      }
    }
  }
}

TEST(CpuGemvTest, EveryRowOfABatchIsBitwiseItsLoneProduct) {
  if (!gemv_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 37, k = 100, ldx = 104, ldy = 40;  // row tails, strided rows
  std::vector<uint16_t> w(static_cast<size_t>(n * k));
  for (auto& v : w) v = float_to_bf16(normal(rng));
  std::vector<float> bias(static_cast<size_t>(n));
  for (auto& b : bias) b = normal(rng);
  for (int64_t m : {1, 2, 3, 4, 5, 8, 9}) {
    std::vector<uint16_t> x(static_cast<size_t>(m * ldx));
    for (auto& v : x) v = float_to_bf16(normal(rng));
    std::vector<float> y(static_cast<size_t>(m * ldy), -7.0f);
    gemv_bf16_rows(w.data(), x.data(), ldx, m, bias.data(), y.data(), ldy, n, k);
    for (int64_t i = 0; i < m; ++i) {
      std::vector<float> alone(static_cast<size_t>(n));
      gemv_bf16(w.data(), x.data() + i * ldx, bias.data(), alone.data(), n, k);
      for (int64_t r = 0; r < n; ++r) {
        ASSERT_EQ(y[i * ldy + r], alone[r]) << "row " << i << " of " << m << ", output " << r;
      }
      for (int64_t r = n; r < ldy; ++r) {
        ASSERT_EQ(y[i * ldy + r], -7.0f) << "wrote past the row's " << n << " outputs";
      }
    }
  }
}

}  // namespace
}  // namespace infini::cpu
