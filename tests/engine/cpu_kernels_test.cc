// The CPU backend's vectorised loops against plain scalar formulas.
#include "engine/cpu/cpu_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/float_convert.h"

namespace infini::cpu {
namespace {

TEST(CpuKernelsTest, ExpIsAccurateOverTheRangeSoftmaxUses) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const double rel = std::fabs(vector_exp(x) - std::exp(static_cast<double>(x))) /
                       std::exp(static_cast<double>(x));
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3e-7);  // about 2.5 float ulps
  EXPECT_EQ(vector_exp(-200.0f), 0.0f);
  EXPECT_EQ(vector_exp(0.0f), 1.0f);
}

TEST(CpuKernelsTest, SoftmaxPrefixNormalisesAndZeroesTheRest) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 5.0f);
  for (int64_t valid : {1, 7, 16, 33, 300}) {
    std::vector<float> row(static_cast<size_t>(valid + 9));
    for (auto& v : row) v = normal(rng);
    std::vector<double> expected(static_cast<size_t>(valid));
    double max = row[0], sum = 0.0;
    for (int64_t i = 0; i < valid; ++i) max = std::max(max, static_cast<double>(row[i]));
    for (int64_t i = 0; i < valid; ++i) sum += expected[i] = std::exp(row[i] - max);
    softmax_prefix(row.data(), valid, static_cast<int64_t>(row.size()));
    for (int64_t i = 0; i < valid; ++i) EXPECT_NEAR(row[i], expected[i] / sum, 1e-6) << i;
    for (size_t i = static_cast<size_t>(valid); i < row.size(); ++i) EXPECT_EQ(row[i], 0.0f);
  }
}

TEST(CpuKernelsTest, ElementwiseMatchScalarFormulas) {
  std::vector<float> x, y;
  for (float v = -30.0f; v <= 30.0f; v += 0.37f) x.push_back(v), y.push_back(0.5f - v / 7.0f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> elu(x.size()), silu(x.size());
  std::vector<uint16_t> bf(x.size());
  elu_plus_one(x.data(), elu.data(), n);
  silu_mul(x.data(), y.data(), silu.data(), n);
  to_bf16(x.data(), bf.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = x[i] > 0 ? x[i] + 1.0 : std::exp(static_cast<double>(x[i]));
    EXPECT_NEAR(elu[i], e, 1e-6 * std::max(1.0, e)) << x[i];
    const double s = x[i] / (1.0 + std::exp(-static_cast<double>(x[i]))) * y[i];
    EXPECT_NEAR(silu[i], s, 1e-5 * std::max(1.0, std::fabs(s))) << x[i];
    EXPECT_EQ(bf[i], float_to_bf16(x[i])) << x[i];
  }
}

TEST(CpuKernelsTest, RopeRotatesPairsHalfApart) {
  const int64_t heads = 2, d = 8;
  std::vector<float> x(heads * d), y(heads * d), cos(d / 2), sin(d / 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1);
  for (int64_t i = 0; i < d / 2; ++i) cos[i] = std::cos(0.3f * (i + 1)), sin[i] = std::sin(0.3f * (i + 1));
  rope_row(x.data(), y.data(), heads, d, cos.data(), sin.data());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < d / 2; ++i) {
      const float a = x[h * d + i], b = x[h * d + i + d / 2];
      // FMA contraction may round differently from the scalar expression.
      EXPECT_NEAR(y[h * d + i], a * cos[i] - b * sin[i], 1e-5f * std::fabs(a) + 1e-5f);
      EXPECT_NEAR(y[h * d + i + d / 2], b * cos[i] + a * sin[i], 1e-5f * std::fabs(b) + 1e-5f);
    }
  }
}

}  // namespace
}  // namespace infini::cpu
