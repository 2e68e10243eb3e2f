// Row-wise and element-wise kernels. Element-wise ones use a grid-stride loop
// over rows * cols with 64-bit indices, so any shape and stride works with a
// bounded grid.
#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/elementwise_kernels.h"
#include "engine/cuda/kernel_math.h"

namespace infini::cuda {

namespace {

constexpr int kThreads = 256;

// A grid for `count` independent items: enough blocks to fill the device,
// capped because the kernels loop (grid-stride).
unsigned grid_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65536));
}

__global__ void embed_kernel(const int32_t* ids, int64_t count, const float* table,
                             int64_t table_stride, int64_t cols, float* out, int64_t out_stride) {
  const int64_t total = count * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    out[r * out_stride + c] = table[ids[r] * table_stride + c];
  }
}

__global__ void embed_bf16_kernel(const int32_t* ids, int64_t count, const uint16_t* table,
                                  int64_t cols, float* out, int64_t out_stride) {
  const int64_t total = count * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    out[r * out_stride + c] = math::bf16_to_float(table[ids[r] * cols + c]);
  }
}

// One block per row (per head of a row with heads > 1: block b is head
// b % heads of row b / heads): partial sums of squares per thread, a tree
// reduction in shared memory, then every thread scales its columns. Each
// thread reads its columns before the barrier and writes them after, so y
// may be x.
__global__ void rms_norm_kernel(const float* x, int64_t x_stride, const float* weight, float eps,
                                float* y, int64_t y_stride, int64_t cols, int64_t heads) {
  __shared__ float partial[kThreads];
  const int64_t row = blockIdx.x / heads, head = blockIdx.x % heads;
  const float* in = x + row * x_stride + head * cols;
  float* out = y + row * y_stride + head * cols;
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += in[c] * in[c];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const float inv = math::rms_inverse(partial[0], cols, eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[c] = in[c] * inv * weight[c];
}

// The element-wise kernels differ only in the per-element operation. Rows
// along the grid's y dimension, columns along x, both grid-stride loops: no
// 64-bit division per element (a flat index split by i / cols costs about as
// much as the memory traffic of these kernels).
template <typename Op>
__global__ void rows_kernel(int64_t rows, int64_t cols, Op op) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < cols;
         c += int64_t{gridDim.x} * blockDim.x) {
      op(r, c);
    }
  }
}

template <typename Op>
void launch_rows(int64_t rows, int64_t cols, Op op, cudaStream_t stream, const char* name) {
  if (rows <= 0 || cols <= 0) return;
  // gridDim.y is at most 65535; x is capped like grid_for's.
  const dim3 grid(grid_for(cols), static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
  rows_kernel<<<grid, kThreads, 0, stream>>>(rows, cols, op);
  check_launch(name);
}

struct Add {
  float* y;
  int64_t ys;
  const float* x;
  int64_t xs;
  __device__ void operator()(int64_t r, int64_t c) const { y[r * ys + c] += x[r * xs + c]; }
};

struct AddBias {
  float* y;
  int64_t ys;
  const float* bias;
  __device__ void operator()(int64_t r, int64_t c) const { y[r * ys + c] += bias[c]; }
};

struct SwiGlu {
  const float* gate;
  int64_t gs;
  const float* up;
  int64_t us;
  float* out;
  int64_t os;
  __device__ void operator()(int64_t r, int64_t c) const {
    out[r * os + c] = math::silu_mul(gate[r * gs + c], up[r * us + c]);
  }
};

struct GateMix {
  const float* mem;
  int64_t ms;
  const float* logits;
  int64_t head_dim;
  float* dot;
  int64_t ds;
  __device__ void operator()(int64_t r, int64_t c) const {
    const float g = math::sigmoid(logits[c / head_dim]);
    float& o = dot[r * ds + c];
    o = g * mem[r * ms + c] + (1.0f - g) * o;
  }
};

struct EluPlusOne {
  const float* src;
  int64_t ss;
  float* dst;
  int64_t ds;
  __device__ void operator()(int64_t r, int64_t c) const {
    dst[r * ds + c] = math::elu_plus_one(src[r * ss + c]);
  }
};

struct ToBf16 {
  const float* src;
  int64_t ss;
  uint16_t* dst;
  int64_t ds;
  __device__ void operator()(int64_t r, int64_t c) const {
    dst[r * ds + c] = math::bf16_bits(src[r * ss + c]);
  }
};

struct FillPattern {
  uint16_t* dst;
  uint32_t seed;
  __device__ void operator()(int64_t, int64_t c) const {
    // A 32-bit integer hash (lowbias32) of the index, mapped to [-1, 1).
    uint32_t h = static_cast<uint32_t>(c) ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    const float x = static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
    dst[c] = math::bf16_bits(x);
  }
};

}  // namespace

void launch_embed(const int32_t* ids, int64_t count, const float* table, int64_t table_stride,
                  int64_t cols, float* out, int64_t out_stride, cudaStream_t stream) {
  if (count <= 0 || cols <= 0) return;
  embed_kernel<<<grid_for(count * cols), kThreads, 0, stream>>>(ids, count, table, table_stride,
                                                                cols, out, out_stride);
  check_launch("embed kernel");
}

void launch_embed_bf16(const int32_t* ids, int64_t count, const uint16_t* table, int64_t cols,
                       float* out, int64_t out_stride, cudaStream_t stream) {
  if (count <= 0 || cols <= 0) return;
  embed_bf16_kernel<<<grid_for(count * cols), kThreads, 0, stream>>>(ids, count, table, cols, out,
                                                                     out_stride);
  check_launch("embed_bf16 kernel");
}

void launch_rms_norm(const float* x, int64_t x_stride, const float* weight, float eps, float* y,
                     int64_t y_stride, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  // One block per row; the grid's x dimension allows 2^31 - 1 rows.
  rms_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, x_stride, weight, eps, y,
                                                                        y_stride, cols, 1);
  check_launch("rms_norm kernel");
}

void launch_rms_norm_heads(const float* x, int64_t x_stride, const float* weight, float eps,
                           float* y, int64_t y_stride, int64_t rows, int64_t heads,
                           int64_t head_dim, cudaStream_t stream) {
  if (rows <= 0 || heads <= 0 || head_dim <= 0) return;
  // One block per (row, head); rows * heads stays far below the grid's 2^31 - 1.
  rms_norm_kernel<<<static_cast<unsigned>(rows * heads), kThreads, 0, stream>>>(
      x, x_stride, weight, eps, y, y_stride, head_dim, heads);
  check_launch("rms_norm_heads kernel");
}

void launch_add(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows,
                int64_t cols, cudaStream_t stream) {
  launch_rows(rows, cols, Add{y, y_stride, x, x_stride}, stream, "add kernel");
}

void launch_add_bias(float* y, int64_t y_stride, const float* bias, int64_t rows, int64_t cols,
                     cudaStream_t stream) {
  launch_rows(rows, cols, AddBias{y, y_stride, bias}, stream, "bias kernel");
}

void launch_swiglu(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                   float* out, int64_t out_stride, int64_t rows, int64_t cols,
                   cudaStream_t stream) {
  launch_rows(rows, cols, SwiGlu{gate, gate_stride, up, up_stride, out, out_stride}, stream,
              "swiglu kernel");
}

void launch_gate_mix(const float* mem, int64_t mem_stride, const float* gate_logits,
                     int64_t head_dim, float* dot, int64_t dot_stride, int64_t rows, int64_t cols,
                     cudaStream_t stream) {
  launch_rows(rows, cols, GateMix{mem, mem_stride, gate_logits, head_dim, dot, dot_stride}, stream,
              "gate_mix kernel");
}

void launch_elu_plus_one(const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
                         int64_t rows, int64_t cols, cudaStream_t stream) {
  launch_rows(rows, cols, EluPlusOne{src, src_stride, dst, dst_stride}, stream,
              "elu_plus_one kernel");
}

void launch_to_bf16(const float* src, int64_t src_stride, uint16_t* dst, int64_t dst_stride,
                    int64_t rows, int64_t cols, cudaStream_t stream) {
  launch_rows(rows, cols, ToBf16{src, src_stride, dst, dst_stride}, stream, "to_bf16 kernel");
}

void launch_fill_pattern_bf16(uint16_t* dst, int64_t count, uint32_t seed, cudaStream_t stream) {
  launch_rows(1, count, FillPattern{dst, seed}, stream, "fill_pattern kernel");
}

}  // namespace infini::cuda
