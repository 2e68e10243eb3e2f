// Launchers of the segment-local attention kernels (segment_attention.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/cuda/kernel_math.h"

namespace infini::cuda {

// The largest head dimension the fused attention kernel supports.
constexpr int kMaxAttentionHeadDim = 256;

// Raises the dynamic shared-memory limit of the attention kernels on the
// current device (needed above 48 KiB, i.e. for head_dim > 64). Call once per
// device before the first launch.
void prepare_segment_attention();

// Rotate-half RoPE of `rows` rows of `heads` heads of `head_dim` (even) floats:
// row r is at segment offset first_position + r; cos and sin are the
// [segment, head_dim / 2] tables of the angles (kernel_math.h: rope_angle).
void launch_rope(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows,
                 int64_t heads, int64_t head_dim, int64_t first_position, const float* cos,
                 const float* sin, cudaStream_t stream);

// Causal attention inside one segment, already RoPE'd: query row i (segment
// offset first + i) of head h attends to keys 0 .. first + i of kv head
// h / (num_heads / num_kv_heads), softmax scaled by `scale`, in fp32 with an
// online softmax (no score matrix in memory). q, out: [n, num_heads *
// head_dim]; keys, values: [>= first + n, num_kv_heads * head_dim].
void launch_segment_attention(const float* q, int64_t q_stride, const float* keys,
                              int64_t keys_stride, const float* values, int64_t values_stride,
                              float* out, int64_t out_stride, int64_t n, int64_t first,
                              int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                              float scale, cudaStream_t stream);

// The tensor-core variant (segment_attention_mma.cu) for the bf16 compute
// path: bf16 Q, K, V and softmax weights (as the CPU backend's bf16 path),
// fp32 accumulation, softmax statistics and output. Same contract as
// launch_segment_attention, for head dimensions that are multiples of 16 up
// to kMaxMmaAttentionHeadDim.
constexpr int kMaxMmaAttentionHeadDim = math::MmaAttentionLayout::kMaxHeadDim;
bool segment_attention_mma_supports(int64_t head_dim);
// Raises the kernel's shared-memory limit as far as `device` allows (up to
// what head_dim kMaxMmaAttentionHeadDim needs) and returns it: a head_dim
// whose segment_attention_mma_shared_bytes is larger must use the fp32 kernel.
size_t prepare_segment_attention_mma(int device);
size_t segment_attention_mma_shared_bytes(int64_t head_dim);
void launch_segment_attention_mma(const float* q, int64_t q_stride, const float* keys,
                                  int64_t keys_stride, const float* values, int64_t values_stride,
                                  float* out, int64_t out_stride, int64_t n, int64_t first,
                                  int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                                  float scale, cudaStream_t stream);

}  // namespace infini::cuda
