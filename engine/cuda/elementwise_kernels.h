// Launchers of the row-wise and element-wise kernels of the CUDA backend
// (elementwise_kernels.cu). Matrices are row-major fp32 with a row stride in
// floats (>= cols, for views); every launcher queues on `stream` and throws
// EngineError(kInternal) if the launch fails.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace infini::cuda {

// out[i] = table[ids[i]], ids already on the device.
void launch_embed(const int32_t* ids, int64_t count, const float* table, int64_t table_stride,
                  int64_t cols, float* out, int64_t out_stride, cudaStream_t stream);
// The same from a bf16 table [vocab, cols] (contiguous), widened to float.
void launch_embed_bf16(const int32_t* ids, int64_t count, const uint16_t* table, int64_t cols,
                       float* out, int64_t out_stride, cudaStream_t stream);
// y = x / sqrt(mean(x^2) + eps) * weight.
void launch_rms_norm(const float* x, int64_t x_stride, const float* weight, float eps, float* y,
                     int64_t y_stride, int64_t rows, int64_t cols, cudaStream_t stream);
// The same on each of `heads` blocks of head_dim columns per row, one [head_dim]
// weight for all (y may be x).
void launch_rms_norm_heads(const float* x, int64_t x_stride, const float* weight, float eps,
                           float* y, int64_t y_stride, int64_t rows, int64_t heads,
                           int64_t head_dim, cudaStream_t stream);
// y += x.
void launch_add(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows,
                int64_t cols, cudaStream_t stream);
// y[r] += bias (a [cols] vector), every row.
void launch_add_bias(float* y, int64_t y_stride, const float* bias, int64_t rows, int64_t cols,
                     cudaStream_t stream);
// out = silu(gate) * up.
void launch_swiglu(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                   float* out, int64_t out_stride, int64_t rows, int64_t cols, cudaStream_t stream);
// dot = g * mem + (1 - g) * dot, g = sigmoid(gate_logits[c / head_dim]).
void launch_gate_mix(const float* mem, int64_t mem_stride, const float* gate_logits,
                     int64_t head_dim, float* dot, int64_t dot_stride, int64_t rows, int64_t cols,
                     cudaStream_t stream);
// dst = ELU(src) + 1.
void launch_elu_plus_one(const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
                         int64_t rows, int64_t cols, cudaStream_t stream);
// dst (bf16 bits) = round-to-nearest-even(src).
void launch_to_bf16(const float* src, int64_t src_stride, uint16_t* dst, int64_t dst_stride,
                    int64_t rows, int64_t cols, cudaStream_t stream);
// dst[i] = a deterministic pseudo-random bf16 in [-1, 1) (the GEMM benchmark's
// operands: all-zero operands would flatter tensor-core throughput).
void launch_fill_pattern_bf16(uint16_t* dst, int64_t count, uint32_t seed, cudaStream_t stream);

}  // namespace infini::cuda
