// Runs a GemmPlan (gemm_plan.h) on cuBLAS.
#pragma once

#include <cublas_v2.h>

#include "engine/cuda/gemm_plan.h"

namespace infini::cuda {

// A buffer a plan's operand offsets are counted from, and its element type.
struct GemmBuffer {
  const void* data = nullptr;
  cudaDataType_t type = CUDA_R_32F;
};

// C = alpha op(A) op(B) + plan.beta C, accumulated in fp32
// (CUBLAS_COMPUTE_32F: true fp32 for fp32 operands, no TF32). The caller
// holds whatever lock guards `handle`. Throws EngineError(kInternal) naming
// `what` on failure.
void run_gemm(cublasHandle_t handle, const GemmPlan& plan, float alpha, GemmBuffer a, GemmBuffer b,
              void* c, cudaDataType_t c_type, const char* what);

}  // namespace infini::cuda
