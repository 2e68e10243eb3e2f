// The CUDA backend is a plugin: engine/cuda/ is built into its own shared
// library, lib/infini/libinfini-cuda.so, which the engine dlopen()s the first
// time something asks for the "cuda" backend. The executables therefore do
// not link the CUDA runtime or cuBLAS (cuBLASLt alone is 540 MB to map), start
// on machines and images without them, and report a missing piece as a
// reason, not as a loader failure.
//
// This is the table the library exports; both sides are built from the same
// tree, and the version guards against a library left over from another build.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"

namespace infini::cuda {

// 2: Backend::rms_norm_heads, AttentionShape::rope_inv_freq, embed from a LinearWeight.
inline constexpr int kPluginAbiVersion = 2;
inline constexpr const char* kPluginFileName = "libinfini-cuda.so";
inline constexpr const char* kPluginEntryPoint = "infini_cuda_plugin";

struct PluginApi {
  int abi_version;
  bool (*device_available)(int device, std::string* reason);
  std::unique_ptr<Backend> (*make_backend)(ComputeDType dtype, int device);
  std::vector<CublasPeak> (*measure_cublas_bf16_peak)(double seconds_each, int device);
  std::string (*device_description)(int device);
};

}  // namespace infini::cuda
