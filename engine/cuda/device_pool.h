// A caching allocator of device memory, owned by one CUDA backend. The model
// allocates a dozen temporaries per segment and per decoded token; cudaMalloc
// and cudaFree (which synchronises the device) per call would dominate.
//
// Ordering: every block is used only by work queued on the backend's single
// stream. A block returned to the pool may still be read or written by
// kernels queued earlier; whoever takes it next queues its own work after
// those on the same stream, so reuse is ordered without any event.
//
// Threads: several session queues may call one backend at once, and a
// tensor's last reference may drop on any thread, so the free lists are
// guarded by a mutex (held only for the bookkeeping, never across a kernel).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace infini::cuda {

class DevicePool : public std::enable_shared_from_this<DevicePool> {
 public:
  // The pool allocates on `device`; construct it through std::make_shared.
  explicit DevicePool(int device);
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // A block of at least `bytes` (contents undefined), 256-byte aligned. The
  // returned pointer keeps the pool alive and gives the block back when the
  // last reference drops. Throws EngineError(kInternal) when the device is
  // out of memory even after the cached blocks were freed.
  std::shared_ptr<void> allocate(size_t bytes);

  // Frees every cached (unused) block, e.g. before measuring memory.
  void trim();

  // The size class a request of `bytes` is rounded up to: 512 bytes at least,
  // then four classes per power of two (at most 25% waste), so that tensors
  // of varying token counts reuse a bounded number of classes.
  static size_t size_class(size_t bytes) {
    constexpr size_t kMinimum = 512;
    if (bytes <= kMinimum) return kMinimum;
    const size_t step = std::bit_floor(bytes) / 4;  // 2^k <= bytes < 2^(k+1)
    return (bytes + step - 1) / step * step;
  }

  int64_t bytes_reserved() const;  // in use + cached

 private:
  void release(void* block, size_t size);
  void free_cached_locked();

  int device_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> unused blocks
  int64_t reserved_ = 0;
};

}  // namespace infini::cuda
