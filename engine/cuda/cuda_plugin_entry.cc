// The one symbol libinfini-cuda.so exports (see engine/cuda_plugin.h and
// engine/cuda/plugin.map): the table of the backend's entry points.
#include "engine/cuda_plugin.h"

namespace infini::cuda {
bool device_usable(int device, std::string* reason);  // cuda_backend.cc
}

extern "C" const infini::cuda::PluginApi* infini_cuda_plugin() {
  static const infini::cuda::PluginApi api{
      infini::cuda::kPluginAbiVersion,
      &infini::cuda::device_usable,
      &infini::cuda::make_cuda_backend,
      &infini::cuda::measure_cublas_bf16_peak,
      &infini::cuda::device_description,
  };
  return &api;
}
