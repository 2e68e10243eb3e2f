// Launchers of the compressive memory's row kernels (memory_kernels.cu); the
// products with M are cuBLAS GEMMs in cuda_attention.cc.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace infini::cuda {

// Retrieval's denominator: for each query row i and head h (kv head
// g = h / group), out[i, h] *= 1 / (sigma_q[i, h] . z_g), or 0 where that
// dot product is 0. sigma_q, out: [n, num_heads * head_dim]; z: [Hkv, d].
void launch_memory_normalize(const float* sigma_q, int64_t sigma_q_stride, const float* z,
                             int64_t z_stride, float* out, int64_t out_stride, int64_t n,
                             int64_t num_heads, int64_t group, int64_t head_dim,
                             cudaStream_t stream);

// The delta rule's target: update[j, g] = values[j, g] - retrieved[j, g] /
// (sigma_k[j, g] . z_g), or values[j, g] where that dot product is 0.
// All [rows, num_kv_heads * head_dim].
void launch_delta_target(const float* sigma_k, int64_t sigma_k_stride, const float* z,
                         int64_t z_stride, const float* values, int64_t values_stride,
                         const float* retrieved, int64_t retrieved_stride, float* update,
                         int64_t update_stride, int64_t rows, int64_t num_kv_heads,
                         int64_t head_dim, cudaStream_t stream);

// z_g[c] += sum over the rows of sigma_k[:, g * d + c].
void launch_norm_update(const float* sigma_k, int64_t sigma_k_stride, int64_t rows,
                        int64_t num_kv_heads, int64_t head_dim, float* z, int64_t z_stride,
                        cudaStream_t stream);

}  // namespace infini::cuda
