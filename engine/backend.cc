#include "engine/backend.h"

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"

namespace infini {

const char* compute_dtype_name(ComputeDType dtype) {
  return dtype == ComputeDType::kBF16 ? "bf16" : "f32";
}

ComputeDType parse_compute_dtype(const std::string& name) {
  if (name == "f32" || name == "fp32" || name == "float32") return ComputeDType::kF32;
  if (name == "bf16" || name == "bfloat16") return ComputeDType::kBF16;
  throw EngineError(ErrorCode::kInvalidArgument,
                    "unknown compute dtype '" + name + "' (expected f32 or bf16)");
}

std::unique_ptr<Backend> make_backend(const std::string& name, ComputeDType dtype) {
  if (name == "cpu") return std::make_unique<cpu::CpuBackend>(dtype);
  throw EngineError(ErrorCode::kUnsupported,
                    "backend '" + name + "' is not available in this build (available: cpu)");
}

}  // namespace infini
