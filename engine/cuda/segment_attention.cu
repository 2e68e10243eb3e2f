// Segment-local causal attention, fused: one block per (tile of 32 queries,
// query head). The block walks the visible keys in tiles of 32 through shared
// memory and keeps, per query row, the online-softmax statistics and the
// output accumulator in registers, so the S x S score matrix never exists.
//
// Inside a block: 8 warps, each owning 4 query rows. For a key tile, lane j
// computes the scores of key j against the warp's 4 rows (q rows are read as
// shared-memory broadcasts, the key row is padded to d + 1 floats so that the
// 32 lanes hit 32 different banks); the warp then reduces max and sum with
// shuffles, and each lane accumulates the output columns lane, lane + 32, ...
// (up to 8 of them: head_dim <= 256) over the tile's keys, the weights being
// broadcast by shuffles. Everything is fp32, like the CPU backend's f32 path.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/kernel_math.h"
#include "engine/cuda/segment_attention.h"

namespace infini::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 4;
constexpr int kQueryTile = kWarps * kRowsPerWarp;  // queries per block
constexpr int kKeyTile = 32;                       // keys per tile: one per lane
constexpr unsigned kFullMask = 0xffffffffu;

size_t shared_bytes(int64_t head_dim) {
  const int64_t d = head_dim;
  return static_cast<size_t>(kQueryTile * d + kKeyTile * (d + 1) + kKeyTile * d) * sizeof(float);
}

__device__ float warp_max(float x) {
  for (int offset = 16; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
  return x;
}

__device__ float warp_sum(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(kFullMask, x, offset);
  return x;
}

__global__ void rope_kernel(const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
                            int64_t rows, int64_t heads, int64_t half, int64_t first_position,
                            const float* cos, const float* sin) {
  const int64_t total = rows * heads * half;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = idx % half;
    const int64_t rest = idx / half;
    const int64_t head = rest % heads;
    const int64_t r = rest / heads;
    const int64_t angle = (first_position + r) * half + i;
    const float* x = src + r * src_stride + head * 2 * half;
    float* y = dst + r * dst_stride + head * 2 * half;
    math::rope_rotate(x[i], x[i + half], cos[angle], sin[angle], &y[i], &y[i + half]);
  }
}

// kDPerLane: output columns per lane, head_dim <= 32 * kDPerLane.
template <int kDPerLane>
__global__ void __launch_bounds__(kThreads)
    segment_attention_kernel(const float* q, int64_t q_stride, const float* keys,
                             int64_t keys_stride, const float* values, int64_t values_stride,
                             float* out, int64_t out_stride, int64_t n, int64_t first, int head_dim,
                             int group, float scale) {
  extern __shared__ float smem[];
  const int d = head_dim;
  float* q_s = smem;                      // [kQueryTile][d]
  float* k_s = q_s + kQueryTile * d;      // [kKeyTile][d + 1], padded against bank conflicts
  float* v_s = k_s + kKeyTile * (d + 1);  // [kKeyTile][d]

  const int h = blockIdx.y;
  const int64_t head_col = int64_t{h} * d;              // the head's columns in q and out
  const int64_t kv_col = int64_t{h / group} * d;        // its kv head's columns in keys, values
  const int64_t q0 = int64_t{blockIdx.x} * kQueryTile;  // first query row of the block
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int idx = threadIdx.x; idx < kQueryTile * d; idx += kThreads) {
    const int r = idx / d, c = idx % d;
    const int64_t row = q0 + r;
    q_s[idx] = row < n ? q[row * q_stride + head_col + c] : 0.0f;
  }
  // Keys visible to the block's last query: 0 .. kv_end - 1 (>= 1 key).
  const int64_t kv_end = first + min(n, q0 + kQueryTile);

  math::OnlineSoftmax stats[kRowsPerWarp];
  float acc[kRowsPerWarp][kDPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int t = 0; t < kDPerLane; ++t) acc[r][t] = 0.0f;
  }
  const float* q_warp = q_s + warp * kRowsPerWarp * d;

  for (int64_t k0 = 0; k0 < kv_end; k0 += kKeyTile) {
    // The previous tile is consumed (and, on the first pass, q_s is written).
    __syncthreads();
    for (int idx = threadIdx.x; idx < kKeyTile * d; idx += kThreads) {
      const int j = idx / d, c = idx % d;
      const int64_t key = k0 + j;
      const bool inside = key < kv_end;
      k_s[j * (d + 1) + c] = inside ? keys[key * keys_stride + kv_col + c] : 0.0f;
      v_s[j * d + c] = inside ? values[key * values_stride + kv_col + c] : 0.0f;
    }
    __syncthreads();

    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0.0f;
    const float* k_lane = k_s + lane * (d + 1);
    for (int c = 0; c < d; ++c) {
      const float kc = k_lane[c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) s[r] += q_warp[r * d + c] * kc;
    }

    const int64_t key = k0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t row = q0 + warp * kRowsPerWarp + r;
      const int64_t pos = first + row;  // the query's segment offset
      // Both conditions are the same for the whole warp, so the shuffles
      // below always run on all 32 lanes.
      if (row >= n || k0 > pos) continue;
      const bool visible = key <= pos;
      const float score = visible ? s[r] * scale : -INFINITY;
      const float factor = stats[r].rescale(warp_max(score));
      const float p = visible ? stats[r].weight(score) : 0.0f;
      stats[r].sum += warp_sum(p);
      const int visible_keys = static_cast<int>(min(int64_t{kKeyTile}, pos - k0 + 1));
#pragma unroll
      for (int t = 0; t < kDPerLane; ++t) acc[r][t] *= factor;
      for (int j = 0; j < visible_keys; ++j) {
        const float pj = __shfl_sync(kFullMask, p, j);
#pragma unroll
        for (int t = 0; t < kDPerLane; ++t) {
          const int c = lane + 32 * t;
          if (c < d) acc[r][t] += pj * v_s[j * d + c];
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = q0 + warp * kRowsPerWarp + r;
    if (row >= n) continue;
    // Every row sees at least key 0, so sum >= 1.
    const float inv = 1.0f / stats[r].sum;
#pragma unroll
    for (int t = 0; t < kDPerLane; ++t) {
      const int c = lane + 32 * t;
      if (c < d) out[row * out_stride + head_col + c] = acc[r][t] * inv;
    }
  }
}

template <int kDPerLane>
void set_shared_limit() {
  check_cuda(cudaFuncSetAttribute(segment_attention_kernel<kDPerLane>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(shared_bytes(32 * kDPerLane))),
             "cudaFuncSetAttribute(segment attention shared memory)");
}

}  // namespace

void prepare_segment_attention() {
  set_shared_limit<2>();
  set_shared_limit<4>();
  set_shared_limit<8>();
}

void launch_rope(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows,
                 int64_t heads, int64_t head_dim, int64_t first_position, const float* cos,
                 const float* sin, cudaStream_t stream) {
  const int64_t half = head_dim / 2;
  const int64_t total = rows * heads * half;
  if (total <= 0) return;
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 65536);
  rope_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      src, src_stride, dst, dst_stride, rows, heads, half, first_position, cos, sin);
  check_launch("rope kernel");
}

void launch_segment_attention(const float* q, int64_t q_stride, const float* keys,
                              int64_t keys_stride, const float* values, int64_t values_stride,
                              float* out, int64_t out_stride, int64_t n, int64_t first,
                              int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                              float scale, cudaStream_t stream) {
  if (n <= 0) return;
  const dim3 grid(static_cast<unsigned>((n + kQueryTile - 1) / kQueryTile),
                  static_cast<unsigned>(num_heads));
  const size_t shared = shared_bytes(head_dim);
  const int d = static_cast<int>(head_dim);
  const int group = static_cast<int>(num_heads / num_kv_heads);
  if (head_dim <= 64) {
    segment_attention_kernel<2>
        <<<grid, kThreads, shared, stream>>>(q, q_stride, keys, keys_stride, values, values_stride,
                                             out, out_stride, n, first, d, group, scale);
  } else if (head_dim <= 128) {
    segment_attention_kernel<4>
        <<<grid, kThreads, shared, stream>>>(q, q_stride, keys, keys_stride, values, values_stride,
                                             out, out_stride, n, first, d, group, scale);
  } else {
    segment_attention_kernel<8>
        <<<grid, kThreads, shared, stream>>>(q, q_stride, keys, keys_stride, values, values_stride,
                                             out, out_stride, n, first, d, group, scale);
  }
  check_launch("segment attention kernel");
}

}  // namespace infini::cuda
