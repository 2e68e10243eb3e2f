#include "engine/cuda/cublas_gemm.h"

#include <limits>
#include <string>

#include "engine/cuda/cuda_check.h"

namespace infini::cuda {

namespace {

int as_int(int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int>::max()) {
    throw EngineError(ErrorCode::kInternal, std::string(what) + ": GEMM dimension " +
                                                std::to_string(value) + " exceeds cuBLAS's int");
  }
  return static_cast<int>(value);
}

size_t element_bytes(cudaDataType_t type) { return type == CUDA_R_32F ? 4 : 2; }

const void* at(GemmBuffer buffer, int64_t offset) {
  return static_cast<const char*>(buffer.data) +
         static_cast<size_t>(offset) * element_bytes(buffer.type);
}

}  // namespace

void run_gemm(cublasHandle_t handle, const GemmPlan& plan, float alpha, GemmBuffer a, GemmBuffer b,
              void* c, cudaDataType_t c_type, const char* what) {
  if (plan.M == 0 || plan.N == 0 || plan.batch == 0) return;
  const ColumnMajorGemm g = column_major(plan);  // B first, A second: see gemm_plan.h
  const cublasOperation_t op_first = g.transpose_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = g.transpose_second ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = as_int(g.m, what), n = as_int(g.n, what), k = as_int(g.k, what);
  const int ld_first = as_int(g.ld_first, what), ld_second = as_int(g.ld_second, what);
  const int ldc = as_int(g.ldc, what);
  const void* first = at(b, plan.b.offset);
  const void* second = at(a, plan.a.offset);
  void* out = const_cast<void*>(at(GemmBuffer{c, c_type}, plan.c.offset));
  const float beta = plan.beta;
  if (plan.batch == 1) {
    check_cublas(cublasGemmEx(handle, op_first, op_second, m, n, k, &alpha, first, b.type, ld_first,
                              second, a.type, ld_second, &beta, out, c_type, ldc,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 what);
  } else {
    check_cublas(cublasGemmStridedBatchedEx(handle, op_first, op_second, m, n, k, &alpha, first,
                                            b.type, ld_first, g.stride_first, second, a.type,
                                            ld_second, g.stride_second, &beta, out, c_type, ldc,
                                            g.stride_c, as_int(plan.batch, what),
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 what);
  }
  if (sync_after_each_launch()) check_cuda(cudaDeviceSynchronize(), what);
}

}  // namespace infini::cuda
