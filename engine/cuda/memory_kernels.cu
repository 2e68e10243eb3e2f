// Row kernels of the compressive memory. The per-(row, head) ones give each
// head of each row to one warp: a d-long dot product with z reduced by
// shuffles, then d scaled or subtracted elements.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/memory_kernels.h"

namespace infini::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ float warp_dot(const float* a, const float* b, int64_t count, int lane) {
  float s = 0.0f;
  for (int64_t c = lane; c < count; c += 32) s += a[c] * b[c];
  for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(kFullMask, s, offset);
  return s;  // the same on every lane
}

unsigned warp_blocks(int64_t warps) {
  return static_cast<unsigned>((warps + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

__global__ void memory_normalize_kernel(const float* sq, int64_t sq_stride, const float* z,
                                        int64_t z_stride, float* out, int64_t out_stride, int64_t n,
                                        int64_t heads, int64_t group, int64_t d) {
  const int64_t item = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (item >= n * heads) return;  // whole warps leave together
  const int64_t i = item / heads, h = item % heads;
  const float den = warp_dot(sq + i * sq_stride + h * d, z + (h / group) * z_stride, d, lane);
  const float inv = den != 0.0f ? 1.0f / den : 0.0f;
  float* o = out + i * out_stride + h * d;
  for (int64_t c = lane; c < d; c += 32) o[c] *= inv;
}

__global__ void delta_target_kernel(const float* sk, int64_t sk_stride, const float* z,
                                    int64_t z_stride, const float* v, int64_t v_stride,
                                    const float* retrieved, int64_t r_stride, float* update,
                                    int64_t u_stride, int64_t rows, int64_t kv_heads, int64_t d) {
  const int64_t item = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (item >= rows * kv_heads) return;
  const int64_t j = item / kv_heads, g = item % kv_heads;
  const float den = warp_dot(sk + j * sk_stride + g * d, z + g * z_stride, d, lane);
  const float* vj = v + j * v_stride + g * d;
  const float* rj = retrieved + j * r_stride + g * d;
  float* uj = update + j * u_stride + g * d;
  if (den == 0.0f) {
    for (int64_t c = lane; c < d; c += 32) uj[c] = vj[c];
  } else {
    const float inv = 1.0f / den;
    for (int64_t c = lane; c < d; c += 32) uj[c] = vj[c] - rj[c] * inv;
  }
}

// A block of 32 x kNormSlices threads sums 32 columns of sigma_k: thread
// (x, y) adds rows y, y + kNormSlices, ... of column x (coalesced across x),
// then the slices' partial sums are added in a fixed order (deterministic).
// One thread per column summing all S rows (the first version) left a
// 2048-row segment's fold latency-bound on 2 blocks: ~0.2 ms per layer.
constexpr int kNormSlices = 32;

__global__ void norm_update_kernel(const float* sk, int64_t sk_stride, int64_t rows, int64_t cols,
                                   int64_t d, float* z, int64_t z_stride) {
  __shared__ float partial[kNormSlices][32];
  const int64_t c = blockIdx.x * int64_t{32} + threadIdx.x;
  float sum = 0.0f;
  if (c < cols) {
    for (int64_t j = threadIdx.y; j < rows; j += kNormSlices) sum += sk[j * sk_stride + c];
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float total = 0.0f;
    for (int s = 0; s < kNormSlices; ++s) total += partial[s][threadIdx.x];
    z[(c / d) * z_stride + c % d] += total;
  }
}

}  // namespace

void launch_memory_normalize(const float* sigma_q, int64_t sigma_q_stride, const float* z,
                             int64_t z_stride, float* out, int64_t out_stride, int64_t n,
                             int64_t num_heads, int64_t group, int64_t head_dim,
                             cudaStream_t stream) {
  if (n <= 0) return;
  memory_normalize_kernel<<<warp_blocks(n * num_heads), kThreads, 0, stream>>>(
      sigma_q, sigma_q_stride, z, z_stride, out, out_stride, n, num_heads, group, head_dim);
  check_launch("memory normalize kernel");
}

void launch_delta_target(const float* sigma_k, int64_t sigma_k_stride, const float* z,
                         int64_t z_stride, const float* values, int64_t values_stride,
                         const float* retrieved, int64_t retrieved_stride, float* update,
                         int64_t update_stride, int64_t rows, int64_t num_kv_heads,
                         int64_t head_dim, cudaStream_t stream) {
  if (rows <= 0) return;
  delta_target_kernel<<<warp_blocks(rows * num_kv_heads), kThreads, 0, stream>>>(
      sigma_k, sigma_k_stride, z, z_stride, values, values_stride, retrieved, retrieved_stride,
      update, update_stride, rows, num_kv_heads, head_dim);
  check_launch("delta target kernel");
}

void launch_norm_update(const float* sigma_k, int64_t sigma_k_stride, int64_t rows,
                        int64_t num_kv_heads, int64_t head_dim, float* z, int64_t z_stride,
                        cudaStream_t stream) {
  const int64_t cols = num_kv_heads * head_dim;
  if (cols <= 0) return;
  norm_update_kernel<<<static_cast<unsigned>((cols + 31) / 32), dim3(32, kNormSlices), 0, stream>>>(
      sigma_k, sigma_k_stride, rows, cols, head_dim, z, z_stride);
  check_launch("norm update kernel");
}

}  // namespace infini::cuda
