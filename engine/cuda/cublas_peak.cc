// measure_cublas_bf16_peak: the GEMM throughput `infini bench --backend cuda`
// compares the model's throughput with, measured in the same run on the same
// device with the same library: bf16 operands, fp32 accumulation and output
// as in CudaBackend::linear.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <memory>

#include "engine/cuda/cublas_gemm.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_pool.h"
#include "engine/cuda/elementwise_kernels.h"

namespace infini::cuda {

namespace {

struct Shape {
  int64_t m, k, n;
};

// Owns the stream, handle and events of one measurement.
class PeakBench {
 public:
  explicit PeakBench(int device) : pool_(std::make_shared<DevicePool>(device)) {
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cuda(cudaEventCreate(&start_), "cudaEventCreate");
    check_cuda(cudaEventCreate(&stop_), "cudaEventCreate");
    check_cublas(cublasCreate(&cublas_), "cublasCreate");
    check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
    workspace_ = pool_->allocate(size_t{32} << 20);
    check_cublas(cublasSetWorkspace(cublas_, workspace_.get(), size_t{32} << 20),
                 "cublasSetWorkspace");
  }
  ~PeakBench() {
    cudaStreamSynchronize(stream_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream_);
  }

  double gflops(const Shape& s, double seconds) {
    auto a = pool_->allocate(static_cast<size_t>(s.m * s.k) * 2);
    auto b = pool_->allocate(static_cast<size_t>(s.n * s.k) * 2);
    auto c = pool_->allocate(static_cast<size_t>(s.m * s.n) * 4);
    launch_fill_pattern_bf16(static_cast<uint16_t*>(a.get()), s.m * s.k, 1, stream_);
    launch_fill_pattern_bf16(static_cast<uint16_t*>(b.get()), s.n * s.k, 2, stream_);
    // The linear layer's product: C [m, n] = A [m, k] B^T, B stored [n, k].
    const GemmPlan plan = linear_plan(s.m, s.k, s.n, s.k, s.n);
    auto run = [&](int times) {
      for (int i = 0; i < times; ++i) {
        run_gemm(cublas_, plan, 1.0f, GemmBuffer{a.get(), CUDA_R_16BF},
                 GemmBuffer{b.get(), CUDA_R_16BF}, c.get(), CUDA_R_32F, "cublasGemmEx (peak)");
      }
    };
    run(3);  // warm-up: heuristics, clocks
    const double once = time(run, 1);
    const int times = static_cast<int>(std::clamp(seconds / std::max(once, 1e-6), 1.0, 100000.0));
    const double elapsed = time(run, times);
    return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) *
           times / elapsed / 1e9;
  }

 private:
  template <typename Run>
  double time(Run& run, int times) {
    check_cuda(cudaEventRecord(start_, stream_), "cudaEventRecord");
    run(times);
    check_cuda(cudaEventRecord(stop_, stream_), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(stop_), "cudaEventSynchronize");
    float ms = 0.0f;
    check_cuda(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    return static_cast<double>(ms) / 1e3;
  }

  std::shared_ptr<DevicePool> pool_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::shared_ptr<void> workspace_;
};

}  // namespace

std::vector<CublasPeak> measure_cublas_bf16_peak(double seconds_each, int device) {
  std::string reason;
  if (!device_usable(device, &reason)) {
    throw EngineError(ErrorCode::kUnsupported, "cuBLAS is not available: " + reason);
  }
  PeakBench bench(device);
  std::vector<CublasPeak> peaks;
  for (const Shape& s : {Shape{8192, 8192, 8192}, Shape{16384, 4096, 4096}}) {
    CublasPeak peak;
    peak.shape = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n);
    peak.gflops = bench.gflops(s, seconds_each);
    peaks.push_back(peak);
  }
  return peaks;
}

}  // namespace infini::cuda
