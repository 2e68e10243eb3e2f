// The entry points of cuda_backend.h in a build with the CUDA toolkit.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_check.h"

namespace infini::cuda {

bool device_usable(int device, std::string* reason) {
  auto fail = [reason](const std::string& why) {
    if (reason != nullptr) *reason = why;
    return false;
  };
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return fail(std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(status));
  }
  if (count == 0) return fail("no CUDA device: cudaGetDeviceCount found none");
  if (device < 0 || device >= count) {
    return fail("no CUDA device " + std::to_string(device) + " (this machine has " +
                std::to_string(count) + ")");
  }
  cudaError_t set = cudaSetDevice(device);
  if (set == cudaSuccess) set = cudaFree(nullptr);  // creates the context
  if (set != cudaSuccess) {
    cudaGetLastError();
    return fail("CUDA device " + std::to_string(device) +
                " is not usable: " + cudaGetErrorString(set));
  }
  return true;
}

bool device_available(std::string* reason) { return device_usable(0, reason); }

std::unique_ptr<Backend> make_cuda_backend(ComputeDType dtype, int device) {
  std::string reason;
  if (!device_usable(device, &reason)) {
    throw EngineError(ErrorCode::kUnsupported, "backend 'cuda' is not available: " + reason);
  }
  return std::make_unique<CudaBackend>(dtype, device);
}

std::string device_description(int device) {
  if (!device_usable(device, nullptr)) return "";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "";
  char text[512];
  std::snprintf(text, sizeof text, "%s, %.1f GiB, compute capability %d.%d, %d SMs", prop.name,
                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), prop.major,
                prop.minor, prop.multiProcessorCount);
  return text;
}

}  // namespace infini::cuda
