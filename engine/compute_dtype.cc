// Names of the matrix-product precisions (backend.h). A file of its own
// because the CUDA plugin (engine/cuda/) needs them without the CPU backend.
#include <string>

#include "engine/backend.h"
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

}  // namespace infini
