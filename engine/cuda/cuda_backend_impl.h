// The CUDA backend: cuBLAS products (bf16 with fp32 accumulation, or true
// fp32), kernels for the rest, all queued on one stream per backend.
//
// Threads: several session queues may call one backend at once. Kernels and
// copies are queued on the one stream in the order the calls happen, which is
// enough because every call's temporaries come from the pool (device_pool.h)
// and are queued before they are given back. The cuBLAS handle is not safe to
// use from two threads at once, so its calls hold cublas_mutex_; the RoPE
// tables have their own mutex. Every entry point first makes this backend's
// device current on the calling thread (the runtime's current device is per
// thread).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/device_pool.h"

namespace infini::cuda {

// Whether `device` exists and a context can be made on it (making it the
// calling thread's current device); when not, `reason` says why.
bool device_usable(int device, std::string* reason);

class CudaBackend final : public Backend {
 public:
  CudaBackend(ComputeDType dtype, int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

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

  void synchronize() override;

  int device() const { return device_; }

 private:
  // cos and sin of offset * inv_freq_i on the device, [S, d/2] each, computed
  // on the host in double exactly as the CPU backend's table.
  struct RopeTable {
    std::shared_ptr<void> block;
    const float* cos = nullptr;
    const float* sin = nullptr;
  };
  const RopeTable& rope_table(const AttentionShape& shape);

  void use_device() const;
  // Host -> device copy from memory the caller may free or reuse as soon as
  // this returns (see copy_from_host in cuda_backend_impl.cc).
  void copy_from_host(void* dst, const void* src, size_t bytes, const char* what);
  // An uninitialised device block of `bytes`, returned to the pool when the
  // last reference drops (after the work queued on it, see device_pool.h).
  std::shared_ptr<void> scratch(size_t bytes);
  Tensor uninitialised(int64_t rows, int64_t cols);

  ComputeDType dtype_;
  int device_;
  // What the tensor-core attention kernel may use on this device (0 before
  // the constructor sets it): see prepare_segment_attention_mma.
  size_t mma_attention_shared_bytes_ = 0;
  std::shared_ptr<DevicePool> pool_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::shared_ptr<void> cublas_workspace_;
  std::mutex cublas_mutex_;
  // Pinned staging buffer of copy_from_host's small copies; staging_done_ is
  // recorded on the stream after each copy out of it.
  std::mutex staging_mutex_;
  void* staging_ = nullptr;
  cudaEvent_t staging_done_ = nullptr;
  std::mutex rope_mutex_;
  // Keyed by segment length and inverse frequencies (AttentionShape).
  std::map<std::pair<int64_t, std::vector<double>>, std::unique_ptr<RopeTable>> rope_tables_;
};

}  // namespace infini::cuda
