// The CUDA backend's entry points. This header is plain C++ (no CUDA types), so
// that backend.cc, the tools and the tests include it in any build; the
// backend itself (cuBLAS products, the kernels in the .cu files) is compiled
// only when CMake finds the CUDA toolkit (INFINI_WITH_CUDA).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace infini::cuda {

// Whether this build has the CUDA backend and a device it can use. When not,
// `reason` (if given) says why, e.g. "built without the CUDA toolkit" or
// "no CUDA device: cudaGetDeviceCount: no CUDA-capable device is detected".
bool device_available(std::string* reason = nullptr);

// The CUDA backend on `device`; throws EngineError(kUnsupported) with the
// reason when device_available() is false.
std::unique_ptr<Backend> make_cuda_backend(ComputeDType dtype, int device = 0);

// The ceiling `infini bench --backend cuda` reports against: the best of a few
// large cuBLAS bf16 GEMMs (fp32 accumulation), each timed for about
// `seconds_each`, on `device`. Throws like make_cuda_backend.
struct CublasPeak {
  std::string shape;  // "MxKxN"
  double gflops = 0.0;
};
std::vector<CublasPeak> measure_cublas_bf16_peak(double seconds_each, int device = 0);

// The device's name, memory and compute capability, for logs ("" without one).
std::string device_description(int device = 0);

}  // namespace infini::cuda
