#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/error.h"

namespace infini {

std::vector<std::string> backend_names() {
#ifdef INFINI_WITH_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name, ComputeDType dtype) {
  if (name == "cpu") return std::make_unique<cpu::CpuBackend>(dtype);
  if (name == "cuda") return cuda::make_cuda_backend(dtype);
  throw EngineError(ErrorCode::kInvalidArgument,
                    "unknown backend '" + name + "' (expected cpu or cuda)");
}

}  // namespace infini
