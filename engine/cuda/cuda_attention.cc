// The attention-side operations of the CUDA backend: segment-local causal
// attention (RoPE pre-pass + the fused kernel of segment_attention.cu), and
// the compressive memory's retrieval and update (fp32 cuBLAS products per kv
// head, batched, plus the row kernels of memory_kernels.cu). M and z are fp32
// whatever the compute dtype.
#include <cmath>
#include <string>
#include <vector>

#include "engine/cuda/cublas_gemm.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/elementwise_kernels.h"
#include "engine/cuda/kernel_math.h"
#include "engine/cuda/memory_kernels.h"
#include "engine/cuda/segment_attention.h"

namespace infini::cuda {

namespace {

// Up to this many queries the bf16 path still attends in fp32, as the CPU
// backend does (cpu_attention.cc, kSmallBatch).
constexpr int64_t kSmallBatch = 4;

size_t float_bytes(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

void check_heads(const AttentionShape& shape, const char* what) {
  if (shape.num_kv_heads <= 0 || shape.num_heads % shape.num_kv_heads != 0 || shape.head_dim <= 0) {
    throw EngineError(ErrorCode::kInternal, std::string(what) + ": bad head layout");
  }
}

}  // namespace

const CudaBackend::RopeTable& CudaBackend::rope_table(const AttentionShape& shape) {
  if (static_cast<int64_t>(shape.rope_inv_freq.size()) != shape.head_dim / 2) {
    throw EngineError(ErrorCode::kInternal,
                      "local_attention: rope_inv_freq needs head_dim / 2 values");
  }
  std::lock_guard<std::mutex> lock(rope_mutex_);
  auto& slot = rope_tables_[std::make_pair(shape.segment_size, shape.rope_inv_freq)];
  if (!slot) {
    const int64_t half = shape.head_dim / 2;
    const int64_t count = shape.segment_size * half;
    std::vector<float> host(static_cast<size_t>(2 * count));  // cos, then sin
    for (int64_t pos = 0; pos < shape.segment_size; ++pos) {
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos) * shape.rope_inv_freq[i];
        host[pos * half + i] = static_cast<float>(std::cos(angle));
        host[count + pos * half + i] = static_cast<float>(std::sin(angle));
      }
    }
    auto table = std::make_unique<RopeTable>();
    table->block = scratch(float_bytes(2 * count));
    // `host` dies at the end of this block: copy_from_host does not keep it.
    copy_from_host(table->block.get(), host.data(), float_bytes(2 * count),
                   "cudaMemcpyAsync (RoPE table)");
    table->cos = static_cast<const float*>(table->block.get());
    table->sin = table->cos + count;
    slot = std::move(table);
  }
  return *slot;
}

// `rotated` is not used: the fused kernel rotates keys as it loads them,
// which on a GPU costs next to nothing against the products.
void CudaBackend::local_attention(const Tensor& q, const Tensor& keys, const Tensor& values,
                                  int64_t first, const AttentionShape& shape,
                                  RotatedKeys& /*rotated*/, Tensor& out) {
  check_heads(shape, "local_attention");
  const int64_t n = q.rows();
  const int64_t total = first + n;  // keys visible to the last query
  const int64_t H = shape.num_heads, G = shape.num_kv_heads, d = shape.head_dim;
  const int64_t qw = H * d, kw = G * d;
  if (total > keys.rows() || total > values.rows() || total > shape.segment_size) {
    throw EngineError(ErrorCode::kInternal, "local_attention: queries past the segment window");
  }
  if (d % 2 != 0 || d > kMaxAttentionHeadDim) {
    throw EngineError(ErrorCode::kUnsupported,
                      "the CUDA attention kernel needs an even head_dim <= " +
                          std::to_string(kMaxAttentionHeadDim) + ", got " + std::to_string(d));
  }
  if (n == 0) return;
  use_device();
  const RopeTable& rope = rope_table(shape);
  std::shared_ptr<void> q_rope = scratch(float_bytes(n * qw));
  std::shared_ptr<void> k_rope = scratch(float_bytes(total * kw));
  float* qr = static_cast<float*>(q_rope.get());
  float* kr = static_cast<float*>(k_rope.get());
  launch_rope(q.data(), q.stride(), qr, qw, n, H, d, first, rope.cos, rope.sin, stream_);
  launch_rope(keys.data(), keys.stride(), kr, kw, total, G, d, 0, rope.cos, rope.sin, stream_);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  // Like the CPU backend: a few queries (decoding) in fp32, more on the bf16
  // path with bf16 products.
  if (dtype_ == ComputeDType::kBF16 && n > kSmallBatch && segment_attention_mma_supports(d) &&
      segment_attention_mma_shared_bytes(d) <= mma_attention_shared_bytes_) {
    launch_segment_attention_mma(qr, qw, kr, kw, values.data(), values.stride(), out.data(),
                                 out.stride(), n, first, H, G, d, scale, stream_);
  } else {
    launch_segment_attention(qr, qw, kr, kw, values.data(), values.stride(), out.data(),
                             out.stride(), n, first, H, G, d, scale, stream_);
  }
}

void CudaBackend::memory_retrieve(const Tensor& q, const Tensor& memory, const Tensor& norm,
                                  const AttentionShape& shape, Tensor& out) {
  check_heads(shape, "memory_retrieve");
  const int64_t n = q.rows();
  if (n == 0) return;
  const int64_t H = shape.num_heads, G = shape.num_kv_heads, d = shape.head_dim;
  const int64_t group = H / G, qw = H * d;
  use_device();
  std::shared_ptr<void> sigma_block = scratch(float_bytes(n * qw));
  float* sq = static_cast<float*>(sigma_block.get());
  launch_elu_plus_one(q.data(), q.stride(), sq, qw, n, qw, stream_);
  {
    // out_h = sigma(q_h) M_g: for the r-th head of every group at once, a
    // batch over the kv heads g (head h = g * group + r).
    std::lock_guard<std::mutex> lock(cublas_mutex_);
    for (const GemmPlan& plan : retrieve_plans(n, H, G, d, qw, memory.stride(), out.stride())) {
      run_gemm(cublas_, plan, 1.0f, GemmBuffer{sq, CUDA_R_32F},
               GemmBuffer{memory.data(), CUDA_R_32F}, out.data(), CUDA_R_32F,
               "cublasGemm (memory retrieve)");
    }
  }
  launch_memory_normalize(sq, qw, norm.data(), norm.stride(), out.data(), out.stride(), n, H, group,
                          d, stream_);
}

void CudaBackend::gate_mix(const Tensor& mem, const Tensor& gate_logits,
                           const AttentionShape& shape, Tensor& dot) {
  if (dot.rows() != mem.rows() || dot.cols() != mem.cols() ||
      dot.cols() != shape.num_heads * shape.head_dim) {
    throw EngineError(ErrorCode::kInternal, "gate_mix: shape mismatch");
  }
  use_device();
  launch_gate_mix(mem.data(), mem.stride(), gate_logits.data(), shape.head_dim, dot.data(),
                  dot.stride(), dot.rows(), dot.cols(), stream_);
}

void CudaBackend::memory_update(const Tensor& keys, const Tensor& values, MemoryUpdate rule,
                                const AttentionShape& shape, Tensor& memory, Tensor& norm) {
  check_heads(shape, "memory_update");
  const int64_t S = keys.rows();
  if (S == 0) return;
  const int64_t G = shape.num_kv_heads, d = shape.head_dim, kw = G * d;
  use_device();
  std::shared_ptr<void> sigma_block = scratch(float_bytes(S * kw));
  float* sk = static_cast<float*>(sigma_block.get());
  launch_elu_plus_one(keys.data(), keys.stride(), sk, kw, S, kw, stream_);

  // What is written into M_g: V, or for the delta rule V minus what the
  // memory before this update already returns for each key.
  const float* target = values.data();
  int64_t target_ld = values.stride();
  std::shared_ptr<void> retrieved_block, target_block;
  if (rule == MemoryUpdate::kDelta) {
    retrieved_block = scratch(float_bytes(S * kw));
    target_block = scratch(float_bytes(S * kw));
    float* retrieved = static_cast<float*>(retrieved_block.get());
    float* delta = static_cast<float*>(target_block.get());
    {
      std::lock_guard<std::mutex> lock(cublas_mutex_);
      run_gemm(cublas_, delta_retrieval_plan(S, G, d, kw, memory.stride(), kw), 1.0f,
               GemmBuffer{sk, CUDA_R_32F}, GemmBuffer{memory.data(), CUDA_R_32F}, retrieved,
               CUDA_R_32F, "cublasGemm (delta rule retrieval)");
    }
    launch_delta_target(sk, kw, norm.data(), norm.stride(), values.data(), values.stride(),
                        retrieved, kw, delta, kw, S, G, d, stream_);
    target = delta;
    target_ld = kw;
  }
  {
    // M_g += sigma(K_g)^T target_g, all kv heads in one batch.
    std::lock_guard<std::mutex> lock(cublas_mutex_);
    run_gemm(cublas_, memory_update_plan(S, G, d, kw, target_ld, memory.stride()), 1.0f,
             GemmBuffer{sk, CUDA_R_32F}, GemmBuffer{target, CUDA_R_32F}, memory.data(), CUDA_R_32F,
             "cublasGemm (memory update)");
  }
  // After the delta rule's use of z above (same stream).
  launch_norm_update(sk, kw, S, G, d, norm.data(), norm.stride(), stream_);
}

}  // namespace infini::cuda
