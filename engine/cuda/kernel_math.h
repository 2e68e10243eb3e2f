// The per-element and per-row maths of the CUDA kernels, written once for the
// device and the host: under nvcc these are __host__ __device__, under g++
// plain inline functions, so that tests/engine/cuda_kernel_math_test.cc checks
// them against the CPU backend on any machine, with or without a GPU.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define INFINI_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define INFINI_HOST_DEVICE inline
#endif

namespace infini::cuda::math {

// float32 -> bf16 bits, round to nearest even (finite inputs, as the CPU
// backend's to_bf16: activations and weights are finite here).
INFINI_HOST_DEVICE uint16_t bf16_bits(float x) {
#if defined(__CUDA_ARCH__)
  uint32_t bits = __float_as_uint(x);
#else
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
#endif
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

INFINI_HOST_DEVICE float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// sigma(x) = ELU(x) + 1, the feature map of the compressive memory.
INFINI_HOST_DEVICE float elu_plus_one(float x) { return x > 0.0f ? x + 1.0f : expf(x); }

INFINI_HOST_DEVICE float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// silu(gate) * up.
INFINI_HOST_DEVICE float silu_mul(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

// 1 / sqrt(mean(x^2) + eps) from the row's sum of squares.
INFINI_HOST_DEVICE float rms_inverse(float sum_squares, int64_t cols, float eps) {
  return 1.0f / sqrtf(sum_squares / static_cast<float>(cols) + eps);
}

// The RoPE angle of pair i (of head_dim / 2) at segment offset `position`:
// position * theta^(-2i / head_dim), in double like the CPU backend's table.
INFINI_HOST_DEVICE double rope_angle(int64_t position, int64_t i, int64_t head_dim, double theta) {
  const double inv_freq = pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  return static_cast<double>(position) * inv_freq;
}

// Rotate-half RoPE of the pair (x[i], x[i + d/2]) by an angle with cosine c
// and sine s.
INFINI_HOST_DEVICE void rope_rotate(float x1, float x2, float c, float s, float* y1, float* y2) {
  *y1 = x1 * c - x2 * s;
  *y2 = x2 * c + x1 * s;
}

// Running softmax statistics of one query row over key tiles (the
// flash-attention recurrence). For each tile: factor = rescale(tile_max);
// scale the row's output accumulator by factor; add weight(score) * v for the
// tile's visible keys, and add the weights to `sum`. At the end the output is
// accumulator / sum, which equals softmax(scores) . V over all tiles.
struct OnlineSoftmax {
  float max = -INFINITY;
  float sum = 0.0f;

  // Moves the running maximum to cover a tile whose largest visible score is
  // tile_max; returns the factor for what was accumulated before.
  INFINI_HOST_DEVICE float rescale(float tile_max) {
    const float new_max = fmaxf(max, tile_max);
    if (new_max == -INFINITY) return 1.0f;     // nothing visible yet
    const float factor = expf(max - new_max);  // 0 on the first visible tile
    max = new_max;
    sum *= factor;
    return factor;
  }

  INFINI_HOST_DEVICE float weight(float score) const { return expf(score - max); }
};

// Shared-memory layout of the tensor-core attention kernel
// (segment_attention_mma.cu) for head dimension d (a multiple of 16): Q, K,
// V tiles in bf16 with row stride qk_ld, the scores S in fp32 (kScoreLd),
// the weights P in bf16 (kProbLd), the output O in fp32 (o_ld). Every region
// starts at a multiple of 128 bytes and every leading dimension is a
// multiple of 16 bytes, so that each WMMA fragment pointer is 32-byte aligned
// and each ldm a multiple of 8 bf16 / 4 floats (WMMA's requirements; checked
// for every supported d by cuda_kernel_math_test).
struct MmaAttentionLayout {
  static constexpr int kWarps = 4;
  static constexpr int kWarpRows = 16;                   // one fragment of rows per warp
  static constexpr int kQueryTile = kWarps * kWarpRows;  // 64
  static constexpr int kKeyTile = 64;                    // == kQueryTile: Q, K, V tiles alike
  static constexpr int kScoreLd = kKeyTile + 4;          // floats; padding against bank conflicts
  static constexpr int kProbLd = kKeyTile + 8;           // bf16
  static constexpr size_t kBf16Bytes = 2;
  static constexpr int kMaxHeadDim = 128;  // kMaxMmaAttentionHeadDim

  int qk_ld = 0;  // bf16 row stride of Q, K, V: d + 8
  int o_ld = 0;   // float row stride of O: d + 4
  size_t k_off = 0, v_off = 0, s_off = 0, p_off = 0, o_off = 0, bytes = 0;
};

INFINI_HOST_DEVICE MmaAttentionLayout mma_attention_layout(int d) {
  using L = MmaAttentionLayout;
  L l;
  l.qk_ld = d + 8;
  l.o_ld = d + 4;
  const size_t qkv = size_t{L::kQueryTile} * l.qk_ld * L::kBf16Bytes;
  l.k_off = qkv;
  l.v_off = 2 * qkv;
  l.s_off = 3 * qkv;
  l.p_off = l.s_off + size_t{L::kQueryTile} * L::kScoreLd * sizeof(float);
  l.o_off = l.p_off + size_t{L::kQueryTile} * L::kProbLd * L::kBf16Bytes;
  l.bytes = l.o_off + size_t{L::kQueryTile} * l.o_ld * sizeof(float);
  return l;
}

}  // namespace infini::cuda::math
