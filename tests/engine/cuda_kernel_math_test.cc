// The maths the CUDA kernels share with the host (engine/cuda/kernel_math.h),
// checked on any machine against the CPU backend and plain formulas: the
// kernels then differ from the CPU backend only in indexing, which the
// backend parity test checks on a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_pool.h"
#include "engine/cuda/gemm_plan.h"
#include "engine/cuda/kernel_math.h"
#include "engine/error.h"

namespace infini::cuda {
namespace {

std::vector<float> random_values(size_t count, float spread, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

TEST(CudaKernelMathTest, Bf16RoundingMatchesTheCpuBackend) {
  auto values = random_values(20000, 30.0f, 1);
  // Exact ties between two bf16 values, both parities, and signed zeros.
  for (float tie : {1.00390625f, 1.01171875f, -1.00390625f, 0.0f, -0.0f, 65280.0f}) {
    values.push_back(tie);
  }
  std::vector<uint16_t> expected(values.size());
  cpu::to_bf16(values.data(), expected.data(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(math::bf16_bits(values[i]), expected[i]) << values[i];
    const float back = math::bf16_to_float(expected[i]);
    EXPECT_LE(std::fabs(back - values[i]), std::fabs(values[i]) * (1.0f / 256.0f)) << values[i];
  }
  EXPECT_EQ(math::bf16_bits(1.00390625f), 0x3f80);  // tie to even: down
  EXPECT_EQ(math::bf16_bits(1.01171875f), 0x3f82);  // tie to even: up
}

TEST(CudaKernelMathTest, SigmaSiluAndSigmoidMatchTheCpuBackend) {
  auto x = random_values(5000, 8.0f, 2);
  auto up = random_values(x.size(), 2.0f, 3);
  std::vector<float> sigma(x.size()), silu(x.size());
  cpu::elu_plus_one(x.data(), sigma.data(), static_cast<int64_t>(x.size()));
  cpu::silu_mul(x.data(), up.data(), silu.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    // The CPU's exp is within ~2.5 ulp of the exact one; the kernels use expf.
    EXPECT_NEAR(math::elu_plus_one(x[i]), sigma[i], 1e-6f * std::fabs(sigma[i])) << x[i];
    EXPECT_NEAR(math::silu_mul(x[i], up[i]), silu[i], 1e-6f * std::fabs(silu[i]) + 1e-30f) << x[i];
    EXPECT_NEAR(math::sigmoid(x[i]), 1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))), 1e-7);
  }
  EXPECT_EQ(math::elu_plus_one(0.0f), 1.0f);
  EXPECT_EQ(math::elu_plus_one(2.5f), 3.5f);
  EXPECT_GT(math::elu_plus_one(-80.0f), 0.0f);  // sigma > 0: denominators vanish only with z
}

TEST(CudaKernelMathTest, RmsInverseMatchesTheCpuFormula) {
  for (int64_t cols : {1, 64, 2048, 4096}) {
    auto row = random_values(static_cast<size_t>(cols), 3.0f, static_cast<uint32_t>(cols));
    double sum = 0.0;
    float sum_f = 0.0f;
    for (float v : row) {
      sum += static_cast<double>(v) * v;
      sum_f += v * v;
    }
    const double expected = 1.0 / std::sqrt(sum / static_cast<double>(cols) + 1e-5);
    EXPECT_NEAR(math::rms_inverse(sum_f, cols, 1e-5f), expected, 1e-5 * expected) << cols;
  }
}

TEST(CudaKernelMathTest, RopeMatchesTheCpuBackendsRotation) {
  for (int64_t d : {64, 128, 256}) {
    for (double theta : {10000.0, 500000.0}) {
      const int64_t half = d / 2, heads = 3;
      for (int64_t pos : {0, 1, 17, 2047, 8191}) {
        std::vector<float> cos(static_cast<size_t>(half)), sin(cos.size());
        for (int64_t i = 0; i < half; ++i) {
          // The CPU backend's table, written out (cpu_attention.cc).
          const double inv_freq = std::pow(theta, -2.0 * static_cast<double>(i) / d);
          const double angle = static_cast<double>(pos) * inv_freq;
          ASSERT_EQ(math::rope_angle(pos, i, d, theta), angle);
          cos[i] = static_cast<float>(std::cos(angle));
          sin[i] = static_cast<float>(std::sin(angle));
        }
        auto x = random_values(static_cast<size_t>(heads * d), 1.0f, static_cast<uint32_t>(pos));
        std::vector<float> expected(x.size()), got(x.size());
        cpu::rope_row(x.data(), expected.data(), heads, d, cos.data(), sin.data());
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t i = 0; i < half; ++i) {
            const int64_t a = h * d + i, b = a + half;
            math::rope_rotate(x[a], x[b], cos[i], sin[i], &got[a], &got[b]);
          }
        }
        // Equal up to fused multiply-adds (the CPU loop is vectorised with
        // FMA, nvcc contracts too): a few ulps of the pair's magnitude.
        for (size_t k = 0; k < got.size(); ++k) {
          EXPECT_NEAR(got[k], expected[k], 1e-6f) << "d=" << d << " pos=" << pos << " k=" << k;
        }
      }
    }
  }
}

// The attention kernel's schedule, on the host: for one query at segment
// offset `pos`, keys in tiles of 32 from 0, tiles starting after pos
// skipped, masked scores -inf, the running statistics rescaled per tile.
std::vector<float> tiled_attention(const std::vector<float>& scores, const std::vector<float>& v,
                                   int64_t d, int64_t pos, int64_t kv_end) {
  constexpr int64_t kTile = 32;
  math::OnlineSoftmax stats;
  std::vector<float> acc(static_cast<size_t>(d), 0.0f);
  for (int64_t k0 = 0; k0 < kv_end; k0 += kTile) {
    if (k0 > pos) continue;
    float tile_max = -INFINITY;
    for (int64_t j = k0; j < k0 + kTile; ++j) {
      if (j < kv_end && j <= pos) tile_max = std::max(tile_max, scores[j]);
    }
    const float factor = stats.rescale(tile_max);
    for (auto& a : acc) a *= factor;
    const int64_t visible = std::min(kTile, pos - k0 + 1);
    for (int64_t j = k0; j < k0 + visible; ++j) {
      const float p = stats.weight(scores[j]);
      stats.sum += p;
      for (int64_t c = 0; c < d; ++c) acc[c] += p * v[j * d + c];
    }
  }
  for (auto& a : acc) a /= stats.sum;
  return acc;
}

TEST(CudaKernelMathTest, OnlineSoftmaxOverTilesEqualsAPlainSoftmax) {
  const int64_t d = 8, keys = 200;
  for (float spread : {0.1f, 5.0f, 60.0f}) {
    auto scores = random_values(keys, spread, 7);
    auto v = random_values(static_cast<size_t>(keys * d), 1.0f, 8);
    for (int64_t pos : {0, 1, 31, 32, 33, 63, 64, 150, 199}) {
      // Plain softmax over keys 0 .. pos, in double.
      double max = scores[0];
      for (int64_t j = 0; j <= pos; ++j) max = std::max(max, static_cast<double>(scores[j]));
      std::vector<double> expected(static_cast<size_t>(d), 0.0);
      double sum = 0.0;
      for (int64_t j = 0; j <= pos; ++j) {
        const double p = std::exp(scores[j] - max);
        sum += p;
        for (int64_t c = 0; c < d; ++c) expected[c] += p * v[j * d + c];
      }
      // The block's last query may see further than this one (kv_end > pos + 1).
      for (int64_t kv_end : {pos + 1, std::min<int64_t>(keys, pos + 40)}) {
        auto got = tiled_attention(scores, v, d, pos, kv_end);
        for (int64_t c = 0; c < d; ++c) {
          const double want = expected[c] / sum;
          EXPECT_NEAR(got[c], want, 4e-6 * (1.0 + std::fabs(want)))
              << "spread=" << spread << " pos=" << pos << " c=" << c;
        }
      }
    }
  }
}

TEST(CudaKernelMathTest, OnlineSoftmaxStartsFromNothing) {
  math::OnlineSoftmax stats;
  EXPECT_EQ(stats.rescale(-INFINITY), 1.0f);  // an empty tile changes nothing
  EXPECT_EQ(stats.sum, 0.0f);
  EXPECT_EQ(stats.rescale(3.0f), 0.0f);  // the first visible tile: nothing to keep
  EXPECT_EQ(stats.max, 3.0f);
  EXPECT_EQ(stats.weight(3.0f), 1.0f);
  stats.sum = 1.0f;
  EXPECT_EQ(stats.rescale(1.0f), 1.0f);  // a lower tile maximum keeps the scale
  EXPECT_FLOAT_EQ(stats.rescale(5.0f), std::exp(-2.0f));
  EXPECT_FLOAT_EQ(stats.sum, std::exp(-2.0f));
}

TEST(CudaKernelMathTest, DevicePoolSizeClassesAreBoundedAndCoverTheRequest) {
  EXPECT_EQ(DevicePool::size_class(0), 512u);
  EXPECT_EQ(DevicePool::size_class(512), 512u);
  EXPECT_EQ(DevicePool::size_class(513), 640u);
  EXPECT_EQ(DevicePool::size_class(size_t{1} << 20), size_t{1} << 20);
  std::vector<size_t> classes;
  for (size_t bytes = 1; bytes < (size_t{1} << 31); bytes = bytes * 9 / 8 + 1) {
    const size_t c = DevicePool::size_class(bytes);
    EXPECT_GE(c, bytes);
    EXPECT_LE(c, std::max<size_t>(512, bytes + bytes / 4)) << bytes;  // at most 25% waste
    EXPECT_EQ(c % 128, 0u);  // keeps cuBLAS's 16-byte alignment within a block
    classes.push_back(c);
  }
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  EXPECT_LE(classes.size(), 4u * 32u);  // four per power of two
}

// cuBLAS's gemm on the host: column-major C (m x n, ldc) = op(first)
// op(second) + beta C, `batch` times with the strides; X(i, j) of a
// column-major X is X[j * ld + i].
void column_major_gemm(const ColumnMajorGemm& g, int64_t batch, float beta, const float* first,
                       const float* second, float* c) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* f = first + b * g.stride_first;
    const float* s = second + b * g.stride_second;
    float* out = c + b * g.stride_c;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        double sum = 0.0;
        for (int64_t l = 0; l < g.k; ++l) {
          const float fv = g.transpose_first ? f[i * g.ld_first + l] : f[l * g.ld_first + i];
          const float sv = g.transpose_second ? s[l * g.ld_second + j] : s[j * g.ld_second + l];
          sum += static_cast<double>(fv) * sv;
        }
        float& o = out[j * g.ldc + i];
        o = static_cast<float>(sum + beta * o);
      }
    }
  }
}

// Runs a plan the way run_gemm hands it to cuBLAS (B first, A second).
void run_plan(const GemmPlan& plan, const std::vector<float>& a, const std::vector<float>& b,
              std::vector<float>& c) {
  column_major_gemm(column_major(plan), plan.batch, plan.beta, b.data() + plan.b.offset,
                    a.data() + plan.a.offset, c.data() + plan.c.offset);
}

TEST(CudaGemmPlanTest, LinearOnStridedViews) {
  const int64_t n = 5, in = 7, out = 6, x_ld = 9, y_ld = 8;
  auto x = random_values(static_cast<size_t>(n * x_ld), 1.0f, 11);
  auto w = random_values(static_cast<size_t>(out * in), 1.0f, 12);
  std::vector<float> y(static_cast<size_t>(n * y_ld), 7.0f);
  run_plan(linear_plan(n, in, out, x_ld, y_ld), x, w, y);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      double e = 0.0;
      for (int64_t k = 0; k < in; ++k) e += static_cast<double>(x[i * x_ld + k]) * w[o * in + k];
      EXPECT_NEAR(y[i * y_ld + o], e, 1e-5) << i << "," << o;
    }
    for (int64_t o = out; o < y_ld; ++o) EXPECT_EQ(y[i * y_ld + o], 7.0f);  // padding untouched
  }
}

TEST(CudaGemmPlanTest, RetrievalReadsEachHeadsKvGroup) {
  for (auto [H, G] : {std::pair<int64_t, int64_t>{4, 2}, {3, 3}, {6, 1}}) {
    const int64_t n = 5, d = 3, qw = H * d, m_ld = d + 2, out_ld = qw + 1;
    auto sq = random_values(static_cast<size_t>(n * qw), 1.0f, 13);
    auto m = random_values(static_cast<size_t>(G * d * m_ld), 1.0f, 14);
    std::vector<float> out(static_cast<size_t>(n * out_ld), 0.0f);
    for (const GemmPlan& plan : retrieve_plans(n, H, G, d, qw, m_ld, out_ld)) {
      run_plan(plan, sq, m, out);
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / G);
        for (int64_t c = 0; c < d; ++c) {
          double e = 0.0;
          for (int64_t r = 0; r < d; ++r) {
            e += static_cast<double>(sq[i * qw + h * d + r]) * m[(g * d + r) * m_ld + c];
          }
          EXPECT_NEAR(out[i * out_ld + h * d + c], e, 1e-5) << H << "/" << G << " h=" << h;
        }
      }
    }
  }
}

TEST(CudaGemmPlanTest, DeltaRetrievalAndUpdatePerKvHead) {
  const int64_t S = 6, G = 2, d = 3, kw = G * d, m_ld = d + 1, t_ld = kw + 3;
  auto sk = random_values(static_cast<size_t>(S * kw), 1.0f, 15);
  auto t = random_values(static_cast<size_t>(S * t_ld), 1.0f, 16);
  auto m = random_values(static_cast<size_t>(G * d * m_ld), 1.0f, 17);

  std::vector<float> r(static_cast<size_t>(S * kw), 0.0f);
  run_plan(delta_retrieval_plan(S, G, d, kw, m_ld, kw), sk, m, r);
  for (int64_t j = 0; j < S; ++j) {
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t c = 0; c < d; ++c) {
        double e = 0.0;
        for (int64_t q = 0; q < d; ++q) {
          e += static_cast<double>(sk[j * kw + g * d + q]) * m[(g * d + q) * m_ld + c];
        }
        EXPECT_NEAR(r[j * kw + g * d + c], e, 1e-5);
      }
    }
  }

  auto updated = m;
  run_plan(memory_update_plan(S, G, d, kw, t_ld, m_ld), sk, t, updated);
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t c = 0; c < d; ++c) {
        double e = m[(g * d + i) * m_ld + c];  // accumulated onto the old memory
        for (int64_t j = 0; j < S; ++j) {
          e += static_cast<double>(sk[j * kw + g * d + i]) * t[j * t_ld + g * d + c];
        }
        EXPECT_NEAR(updated[(g * d + i) * m_ld + c], e, 1e-5) << g << " " << i << " " << c;
      }
      EXPECT_EQ(updated[(g * d + i) * m_ld + d], m[(g * d + i) * m_ld + d]);  // padding
    }
  }
}

// The tensor-core attention kernel's shared memory, for every head
// dimension it takes (multiples of 16 up to kMaxMmaAttentionHeadDim): WMMA
// needs 256-bit aligned fragment pointers and an ldm that is a multiple of 8
// bf16 / 4 floats, and prepare_segment_attention_mma raises the
// shared-memory limit to the layout of the largest d.
TEST(CudaKernelMathTest, MmaAttentionLayoutKeepsWmmaAlignment) {
  using L = math::MmaAttentionLayout;
  const size_t largest = math::mma_attention_layout(L::kMaxHeadDim).bytes;
  EXPECT_LE(largest, size_t{163} * 1024);  // A100's opt-in limit (H100/H200: 227 KiB)
  for (int d = 16; d <= L::kMaxHeadDim; d += 16) {
    const L l = math::mma_attention_layout(d);
    EXPECT_EQ(l.qk_ld % 8, 0) << d;
    EXPECT_EQ(L::kProbLd % 8, 0);
    EXPECT_EQ(l.o_ld % 4, 0) << d;
    EXPECT_EQ(L::kScoreLd % 4, 0);
    for (size_t off : {l.k_off, l.v_off, l.s_off, l.p_off, l.o_off}) EXPECT_EQ(off % 128, 0u) << d;
    EXPECT_LE(l.bytes, largest) << d;
    // Q, K, V tiles end where the next region starts (no overlap).
    EXPECT_EQ(l.k_off, size_t{L::kQueryTile} * l.qk_ld * 2);
    EXPECT_GE(l.s_off, l.v_off + size_t{L::kKeyTile} * l.qk_ld * 2);
    for (int warp = 0; warp < L::kWarps; ++warp) {
      for (int t = 0; t * 16 < std::max(d, L::kKeyTile); ++t) {
        // Byte offsets of the fragment pointers the kernel forms.
        const size_t row16 = size_t{16} * warp;
        if (t * 16 < d) {
          EXPECT_EQ((row16 * l.qk_ld + 16 * t) * 2 % 32, 0u);                  // Q_w + kk
          EXPECT_EQ((l.k_off + (16 * t) * size_t(l.qk_ld) * 2) % 32, 0u);      // K + nt*16 rows
          EXPECT_EQ((l.o_off + (row16 * l.o_ld + 16 * t) * 4) % 32, 0u);       // O_w + dt*16
          EXPECT_EQ((l.v_off + (16 * t) * 2) % 32, 0u);                        // V + dt*16
        }
        if (t * 16 < L::kKeyTile) {
          EXPECT_EQ((l.s_off + (row16 * L::kScoreLd + 16 * t) * 4) % 32, 0u);  // S_w + nt*16
          EXPECT_EQ((l.p_off + (row16 * L::kProbLd + 16 * t) * 2) % 32, 0u);  // P_w + kk
          EXPECT_EQ((l.v_off + size_t(16 * t) * l.qk_ld * 2) % 32, 0u);        // V + kk rows
        }
      }
    }
  }
}

// On a machine without a device (or a build without CUDA), asking for the
// CUDA backend fails with kUnsupported and the reason, instead of crashing in
// the runtime; this also shows that linking cudart and cuBLAS is harmless
// without a driver.
TEST(CudaEntryPointsTest, WithoutADeviceMakeBackendSaysWhy) {
  std::string reason;
  if (device_available(&reason)) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(reason.empty());
  try {
    make_backend("cuda", ComputeDType::kBF16);
    FAIL() << "make_backend(\"cuda\") succeeded without a device";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
  EXPECT_THROW(measure_cublas_bf16_peak(0.1), EngineError);
  EXPECT_EQ(device_description(), "");
}

}  // namespace
}  // namespace infini::cuda
