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

}  // namespace
}  // namespace infini::cpu
