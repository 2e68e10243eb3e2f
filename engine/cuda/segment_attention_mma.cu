// Segment-local causal attention on tensor cores (bf16 operands, fp32
// accumulation and softmax), for the bf16 compute path: the same online
// softmax as segment_attention.cu, with the two products of each key tile
// done by WMMA 16x16x16 fragments.
//
// One block per (tile of 64 queries, query head), 4 warps of 16 query rows.
// Per key tile of 64 (shared by the warps): S = Q_w K^T into shared memory
// (fp32), then each lane pair owns one of the warp's rows for the softmax
// step (mask, running max, weights P rounded to bf16 like the CPU backend's
// bf16 path, rescaling that row of O), then O_w += P_w V with O kept in
// shared memory in fp32 (accumulator fragments are opaque, so the per-row
// rescale is done on the shared copy). Only head_dim % 16 == 0, <= 128.
#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/kernel_math.h"
#include "engine/cuda/segment_attention.h"

namespace infini::cuda {

namespace {

using Bf16 = __nv_bfloat16;
namespace wmma = nvcuda::wmma;

using Layout = math::MmaAttentionLayout;  // kernel_math.h: tiles, strides, alignment
constexpr int kWarps = Layout::kWarps;
constexpr int kThreads = kWarps * 32;
constexpr int kWarpRows = Layout::kWarpRows;
constexpr int kQueryTile = Layout::kQueryTile;
constexpr int kKeyTile = Layout::kKeyTile;
constexpr int kScoreLd = Layout::kScoreLd;
constexpr int kProbLd = Layout::kProbLd;
constexpr unsigned kFullMask = 0xffffffffu;

static_assert(sizeof(Bf16) == Layout::kBf16Bytes);
static_assert(kKeyTile == kQueryTile, "Q, K and V tiles share one size in the layout");

__host__ __device__ Layout layout(int d) { return math::mma_attention_layout(d); }

__global__ void __launch_bounds__(kThreads)
    segment_attention_mma_kernel(const float* q, int64_t q_stride, const float* keys,
                                 int64_t keys_stride, const float* values, int64_t values_stride,
                                 float* out, int64_t out_stride, int64_t n, int64_t first, int d,
                                 int group, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  const Layout l = layout(d);
  Bf16* q_s = reinterpret_cast<Bf16*>(smem);
  Bf16* k_s = reinterpret_cast<Bf16*>(smem + l.k_off);
  Bf16* v_s = reinterpret_cast<Bf16*>(smem + l.v_off);
  float* s_s = reinterpret_cast<float*>(smem + l.s_off);
  Bf16* p_s = reinterpret_cast<Bf16*>(smem + l.p_off);
  float* o_s = reinterpret_cast<float*>(smem + l.o_off);

  const int h = blockIdx.y;
  const int64_t head_col = int64_t{h} * d;
  const int64_t kv_col = int64_t{h / group} * d;
  const int64_t q0 = int64_t{blockIdx.x} * kQueryTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int idx = threadIdx.x; idx < kQueryTile * d; idx += kThreads) {
    const int r = idx / d, c = idx % d;
    const int64_t row = q0 + r;
    q_s[r * l.qk_ld + c] = __float2bfloat16(row < n ? q[row * q_stride + head_col + c] : 0.0f);
    o_s[r * l.o_ld + c] = 0.0f;
  }
  const int64_t kv_end = first + min(n, q0 + kQueryTile);

  // The warp's rows are q0 + warp * 16 .. + 15; lanes 2r and 2r + 1 own row r
  // of them for the softmax step, each for half of the tile's 64 keys.
  const int64_t warp_row0 = q0 + int64_t{warp} * kWarpRows;
  const bool warp_active = warp_row0 < n;
  const int64_t warp_last_pos = first + min(n, warp_row0 + kWarpRows) - 1;
  const int my_row = lane / 2, my_half = lane % 2;
  const int64_t row = warp_row0 + my_row;
  const bool row_valid = row < n;
  const int64_t pos = first + row;
  math::OnlineSoftmax stats;
  float* s_warp = s_s + warp * kWarpRows * kScoreLd;
  Bf16* p_warp = p_s + warp * kWarpRows * kProbLd;
  float* o_warp = o_s + warp * kWarpRows * l.o_ld;
  const Bf16* q_warp = q_s + warp * kWarpRows * l.qk_ld;

  for (int64_t k0 = 0; k0 < kv_end; k0 += kKeyTile) {
    // The previous tile is consumed (and, on the first pass, Q and O are set).
    __syncthreads();
    for (int idx = threadIdx.x; idx < kKeyTile * d; idx += kThreads) {
      const int j = idx / d, c = idx % d;
      const int64_t key = k0 + j;
      const bool inside = key < kv_end;
      k_s[j * l.qk_ld + c] = __float2bfloat16(inside ? keys[key * keys_stride + kv_col + c] : 0.0f);
      v_s[j * l.qk_ld + c] =
          __float2bfloat16(inside ? values[key * values_stride + kv_col + c] : 0.0f);
    }
    __syncthreads();
    // Warp-uniform: no rows here, or the whole tile is in the rows' future.
    if (!warp_active || k0 > warp_last_pos) continue;

    // S_w [16 x 64] = Q_w [16 x d] K^T [d x 64]; K stored [key][d] is K^T
    // column-major.
    for (int nt = 0; nt < kKeyTile / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = 0; kk < d; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, Bf16, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, Bf16, wmma::col_major> b;
        wmma::load_matrix_sync(a, q_warp + kk, l.qk_ld);
        wmma::load_matrix_sync(b, k_s + nt * 16 * l.qk_ld + kk, l.qk_ld);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(s_warp + nt * 16, acc, kScoreLd, wmma::mem_row_major);
    }
    __syncwarp();

    // Softmax step of row my_row over keys k0 + my_half * 32 .. + 31.
    const float* s_row = s_warp + my_row * kScoreLd + my_half * 32;
    Bf16* p_row = p_warp + my_row * kProbLd + my_half * 32;
    const int64_t key0 = k0 + my_half * 32;
    float tile_max = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      if (row_valid && key0 + c <= pos) tile_max = fmaxf(tile_max, s_row[c] * scale);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
    const float factor = stats.rescale(tile_max);  // the same on both lanes of the row
    float sum = 0.0f;
    for (int c = 0; c < 32; ++c) {
      const bool visible = row_valid && key0 + c <= pos;
      const float p = visible ? stats.weight(s_row[c] * scale) : 0.0f;
      p_row[c] = __float2bfloat16(p);
      sum += p;
    }
    stats.sum += sum + __shfl_xor_sync(kFullMask, sum, 1);
    float* o_row = o_warp + my_row * l.o_ld;
    for (int c = my_half; c < d; c += 2) o_row[c] *= factor;
    __syncwarp();

    // O_w [16 x d] += P_w [16 x 64] V [64 x d].
    for (int dt = 0; dt < d / 16; ++dt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, o_warp + dt * 16, l.o_ld, wmma::mem_row_major);
      for (int kk = 0; kk < kKeyTile; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, Bf16, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, Bf16, wmma::row_major> b;
        wmma::load_matrix_sync(a, p_warp + kk, kProbLd);
        wmma::load_matrix_sync(b, v_s + kk * l.qk_ld + dt * 16, l.qk_ld);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(o_warp + dt * 16, acc, l.o_ld, wmma::mem_row_major);
    }
    __syncwarp();
  }

  __syncwarp();
  if (row_valid) {
    // Every valid row sees at least key 0, so sum > 0.
    const float inv = 1.0f / stats.sum;
    const float* o_row = o_warp + my_row * l.o_ld;
    for (int c = my_half; c < d; c += 2) out[row * out_stride + head_col + c] = o_row[c] * inv;
  }
}

}  // namespace

bool segment_attention_mma_supports(int64_t head_dim) {
  return head_dim % 16 == 0 && head_dim > 0 && head_dim <= kMaxMmaAttentionHeadDim;
}

size_t prepare_segment_attention_mma(int device) {
  int optin = 0;
  check_cuda(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute(shared memory per block, opt-in)");
  // sm_86/89 allow 99 KiB a block: the largest layouts (up to 110 KiB at
  // head_dim 128) then do not fit, and those head_dims use the fp32 kernel.
  const size_t limit =
      std::min(static_cast<size_t>(optin), layout(kMaxMmaAttentionHeadDim).bytes);
  check_cuda(cudaFuncSetAttribute(segment_attention_mma_kernel,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(limit)),
             "cudaFuncSetAttribute(tensor-core attention shared memory)");
  return limit;
}

size_t segment_attention_mma_shared_bytes(int64_t head_dim) {
  return layout(static_cast<int>(head_dim)).bytes;
}

void launch_segment_attention_mma(const float* q, int64_t q_stride, const float* keys,
                                  int64_t keys_stride, const float* values, int64_t values_stride,
                                  float* out, int64_t out_stride, int64_t n, int64_t first,
                                  int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                                  float scale, cudaStream_t stream) {
  if (n <= 0) return;
  const dim3 grid(static_cast<unsigned>((n + kQueryTile - 1) / kQueryTile),
                  static_cast<unsigned>(num_heads));
  const int d = static_cast<int>(head_dim);
  segment_attention_mma_kernel<<<grid, kThreads, layout(d).bytes, stream>>>(
      q, q_stride, keys, keys_stride, values, values_stride, out, out_stride, n, first, d,
      static_cast<int>(num_heads / num_kv_heads), scale);
  check_launch("tensor-core segment attention kernel");
}

}  // namespace infini::cuda
