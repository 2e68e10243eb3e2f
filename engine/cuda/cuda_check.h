// Turns CUDA runtime and cuBLAS status codes into EngineError(kInternal) that
// name the operation, so that a failure on a GPU says what was being done.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>

#include "engine/error.h"

namespace infini::cuda {

// Errors of a kernel that already ran: they surface at whatever call comes
// next (so `what` names the reporter, not the culprit) and at every call
// after it, the context being lost.
inline bool is_kernel_fault(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
    case cudaErrorIllegalInstruction:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
      return true;
    default:
      return false;
  }
}

inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::string message = std::string(what) + " failed: " + cudaGetErrorString(status);
    if (is_kernel_fault(status)) {
      message +=
          " (a kernel queued earlier faulted; the device context is lost; run with "
          "INFINI_CUDA_SYNC=1 to name the kernel)";
    }
    throw EngineError(ErrorCode::kInternal, message);
  }
}

// INFINI_CUDA_SYNC=1 (debugging only): wait for every kernel and cuBLAS call
// right after queueing it, so that a fault is reported by the operation that
// caused it. Read once; never changes afterwards.
inline bool sync_after_each_launch() {
  static const bool on = [] {
    const char* value = std::getenv("INFINI_CUDA_SYNC");
    return value != nullptr && value[0] != '\0' && value[0] != '0';
  }();
  return on;
}

// After a kernel launch: reports a bad configuration (grid, shared memory)
// at the launch that caused it rather than at the next synchronisation.
inline void check_launch(const char* kernel) {
  check_cuda(cudaGetLastError(), kernel);
  if (sync_after_each_launch()) check_cuda(cudaDeviceSynchronize(), kernel);
}

inline void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw EngineError(ErrorCode::kInternal, std::string(what) +
                                                " failed: " + cublasGetStatusName(status) + " (" +
                                                cublasGetStatusString(status) + ")");
  }
}

}  // namespace infini::cuda
