// The CPU backend: oneDNN matmuls (fp32, or bf16 on AMX / AVX512-BF16 with
// fp32 accumulation) and OpenMP loops for the element-wise operations.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "engine/cpu/matmul_cache.h"

namespace infini::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(ComputeDType dtype);

  std::string name() const override;
  ComputeDType dtype() const override { return dtype_; }

  Tensor allocate(int64_t rows, int64_t cols) override;
  Tensor upload(const float* host, int64_t rows, int64_t cols) override;
  void download(const Tensor& src, float* host) override;
  void copy(const Tensor& src, Tensor& dst) override;
  void fill_zero(Tensor& dst) override;
  std::unique_ptr<LinearWeight> upload_linear(const float* weight, int64_t out_features,
                                              int64_t in_features, const float* bias) override;

  void embed(const int32_t* ids, int64_t count, const LinearWeight& table,
             Tensor& out) override;
  void linear(const Tensor& x, const LinearWeight& weight, Tensor& y) override;
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y) override;
  void rms_norm_heads(const Tensor& x, const Tensor& weight, float eps, Tensor& y) override;
  void add(Tensor& y, const Tensor& x) override;
  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override;

  void local_attention(const Tensor& q, const Tensor& keys, const Tensor& values, int64_t first,
                       const AttentionShape& shape, RotatedKeys& rotated, Tensor& out) override;
  void memory_retrieve(const Tensor& q, const Tensor& memory, const Tensor& norm,
                       const AttentionShape& shape, Tensor& out) override;
  void gate_mix(const Tensor& mem, const Tensor& gate_logits, const AttentionShape& shape,
                Tensor& dot) override;
  void memory_update(const Tensor& keys, const Tensor& values, MemoryUpdate rule,
                     const AttentionShape& shape, Tensor& memory, Tensor& norm) override;
  // Bodies side by side on the OpenMP team, one thread each (nested regions
  // inside them run on that thread): in a decode batch each sequence's
  // attention is too small to split, and many of them fill both cores.
  void for_each_piece(int64_t count, const std::function<void(int64_t)>& body) override;

  // Exposed for the benchmark's GEMM-peak baseline and for tests.
  MatmulCache& matmuls() { return matmuls_; }

 private:
  // cos and sin of offset * inv_freq_i, [S, d/2] each, computed in double.
  struct RopeTable {
    std::vector<float> cos, sin;
  };
  const RopeTable& rope_table(const AttentionShape& shape);


  ComputeDType dtype_;
  MatmulCache matmuls_;
  std::mutex rope_mutex_;
  // Keyed by segment length and inverse frequencies.
  std::map<std::pair<int64_t, std::vector<double>>, std::unique_ptr<RopeTable>> rope_tables_;
};

}  // namespace infini::cpu
