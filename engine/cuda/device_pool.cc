#include "engine/cuda/device_pool.h"

#include <cuda_runtime_api.h>

#include <string>

#include "engine/cuda/cuda_check.h"

namespace infini::cuda {

DevicePool::DevicePool(int device) : device_(device) {}

DevicePool::~DevicePool() {
  // No block is in use any more (each holds a reference to the pool). Errors
  // are ignored: at process exit the runtime may already be shut down.
  if (cudaSetDevice(device_) != cudaSuccess) return;
  cudaDeviceSynchronize();
  for (auto& [size, blocks] : free_) {
    for (void* block : blocks) cudaFree(block);
  }
}

std::shared_ptr<void> DevicePool::allocate(size_t bytes) {
  const size_t size = size_class(bytes);
  void* block = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      block = it->second.back();
      it->second.pop_back();
    } else {
      check_cuda(cudaSetDevice(device_), "cudaSetDevice");
      cudaError_t status = cudaMalloc(&block, size);
      if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the sticky-free error state of the runtime
        free_cached_locked();
        status = cudaMalloc(&block, size);
      }
      if (status != cudaSuccess && is_kernel_fault(status)) {
        check_cuda(status, "cudaMalloc");  // a fault of earlier work, not a lack of memory
      }
      if (status != cudaSuccess) {
        cudaGetLastError();
        throw EngineError(
            ErrorCode::kInternal,
            "cudaMalloc of " + std::to_string(size >> 20) + " MiB failed (" +
                std::to_string(reserved_ >> 20) +
                " MiB already reserved by this backend): " + cudaGetErrorString(status));
      }
      reserved_ += static_cast<int64_t>(size);
    }
  }
  std::shared_ptr<DevicePool> self = shared_from_this();
  return std::shared_ptr<void>(block, [self, size](void* p) { self->release(p, size); });
}

void DevicePool::release(void* block, size_t size) {
  // Runs from a shared_ptr deleter: no CUDA call and nothing that throws
  // except bad_alloc from the vector, which terminates like any deleter would.
  std::lock_guard<std::mutex> lock(mutex_);
  free_[size].push_back(block);
}

void DevicePool::trim() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached_locked();
}

void DevicePool::free_cached_locked() {
  // The cached blocks may still be used by queued kernels: wait for them.
  cudaSetDevice(device_);
  cudaDeviceSynchronize();
  for (auto& [size, blocks] : free_) {
    for (void* block : blocks) {
      cudaFree(block);
      reserved_ -= static_cast<int64_t>(size);
    }
    blocks.clear();
  }
}

int64_t DevicePool::bytes_reserved() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reserved_;
}

}  // namespace infini::cuda
