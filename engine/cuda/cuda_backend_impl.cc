// The CUDA backend's memory operations, products and row kernels; the
// attention-side operations are in cuda_attention.cc.
#include "engine/cuda/cuda_backend_impl.h"

#include <cstring>
#include <string>

#include "engine/cuda/cublas_gemm.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/elementwise_kernels.h"
#include "engine/cuda/segment_attention.h"

namespace infini::cuda {

namespace {

// cuBLAS's recommended workspace on Hopper; also enough for Ampere.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
// Host -> device copies up to this size go through the pinned staging buffer
// (token ids, biases, norm weights, RoPE tables); larger ones wait for the
// stream instead.
constexpr size_t kStagingBytes = size_t{1} << 20;

// W [out, in] on the device: fp32 for the f32 path, bf16 for the bf16 path
// (uploaded once, converted on the device), and the optional fp32 bias.
class CudaLinearWeight final : public LinearWeight {
 public:
  CudaLinearWeight(int64_t out, int64_t in) : out_(out), in_(in) {}
  int64_t out_features() const override { return out_; }
  int64_t in_features() const override { return in_; }
  int64_t bytes() const override { return weight_bytes + (bias ? out_ * 4 : 0); }

  int64_t out_, in_;
  std::shared_ptr<void> weight;  // float or bf16 bits, [out, in] row-major
  std::shared_ptr<void> bias;    // float [out], or null
  int64_t weight_bytes = 0;
};

size_t float_bytes(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) {
    throw EngineError(ErrorCode::kInternal, std::string(what) + ": tensors of different shapes");
  }
}

}  // namespace

CudaBackend::CudaBackend(ComputeDType dtype, int device)
    : dtype_(dtype), device_(device), pool_(std::make_shared<DevicePool>(device)) {
  use_device();
  // Non-blocking: the legacy default stream (used by nobody here) must not
  // serialise with this one.
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  try {
    check_cublas(cublasCreate(&cublas_), "cublasCreate");
    check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
    cublas_workspace_ = scratch(kCublasWorkspaceBytes);
    check_cublas(cublasSetWorkspace(cublas_, cublas_workspace_.get(), kCublasWorkspaceBytes),
                 "cublasSetWorkspace");
    check_cuda(cudaMallocHost(&staging_, kStagingBytes), "cudaMallocHost (staging buffer)");
    check_cuda(cudaEventCreateWithFlags(&staging_done_, cudaEventDisableTiming),
               "cudaEventCreate (staging)");
    prepare_segment_attention();
    mma_attention_shared_bytes_ = prepare_segment_attention_mma(device_);
  } catch (...) {
    if (staging_done_ != nullptr) cudaEventDestroy(staging_done_);
    if (staging_ != nullptr) cudaFreeHost(staging_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
    throw;
  }
}

CudaBackend::~CudaBackend() {
  // Tensors that outlive the backend keep the pool (not the stream) alive.
  // Errors are ignored: a destructor must not throw, and after a kernel fault
  // every call here reports that fault again.
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  cudaEventDestroy(staging_done_);
  cudaFreeHost(staging_);
  cublasDestroy(cublas_);
  cudaStreamDestroy(stream_);
}

std::string CudaBackend::name() const {
  // Spelled out rather than compute_dtype_name(): that lives in the engine
  // (backend.cc), which this plugin library does not link (-z defs).
  return std::string("cuda-cublas-") + (dtype_ == ComputeDType::kBF16 ? "bf16" : "f32");
}

void CudaBackend::use_device() const { check_cuda(cudaSetDevice(device_), "cudaSetDevice"); }

std::shared_ptr<void> CudaBackend::scratch(size_t bytes) { return pool_->allocate(bytes); }

// cudaMemcpyAsync from pageable memory "might be synchronous" (CUDA's API
// synchronization notes): nothing promises that the source was read when it
// returns, and the callers' buffers (a token-id span, a std::vector of RoPE
// angles, a checkpoint's staging vector) die right after. Small copies are
// therefore first copied into a pinned buffer, reused once the previous copy
// out of it has run; large ones (weights, restored session state: load time
// only) wait for the stream.
void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes, const char* what) {
  if (bytes == 0) return;
  if (bytes <= kStagingBytes) {
    std::lock_guard<std::mutex> lock(staging_mutex_);
    check_cuda(cudaEventSynchronize(staging_done_), what);
    std::memcpy(staging_, src, bytes);
    check_cuda(cudaMemcpyAsync(dst, staging_, bytes, cudaMemcpyHostToDevice, stream_), what);
    check_cuda(cudaEventRecord(staging_done_, stream_), what);
    return;
  }
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), what);
  check_cuda(cudaStreamSynchronize(stream_), what);
}

Tensor CudaBackend::uninitialised(int64_t rows, int64_t cols) {
  std::shared_ptr<void> block = scratch(float_bytes(rows * cols));
  std::shared_ptr<float> storage(block, static_cast<float*>(block.get()));
  return Tensor(storage, storage.get(), rows, cols, cols);
}

Tensor CudaBackend::allocate(int64_t rows, int64_t cols) {
  use_device();
  Tensor t = uninitialised(rows, cols);
  if (!t.empty()) {
    check_cuda(cudaMemsetAsync(t.data(), 0, static_cast<size_t>(t.bytes()), stream_),
               "cudaMemsetAsync (allocate)");
  }
  return t;
}

Tensor CudaBackend::upload(const float* host, int64_t rows, int64_t cols) {
  use_device();
  Tensor t = uninitialised(rows, cols);
  copy_from_host(t.data(), host, static_cast<size_t>(t.bytes()), "cudaMemcpyAsync (upload)");
  return t;
}

void CudaBackend::download(const Tensor& src, float* host) {
  use_device();
  if (!src.empty()) {
    check_cuda(cudaMemcpy2DAsync(host, float_bytes(src.cols()), src.data(),
                                 float_bytes(src.stride()), float_bytes(src.cols()),
                                 static_cast<size_t>(src.rows()), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpy2DAsync (download)");
  }
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (download)");
}

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  check_same_shape(src, dst, "copy");
  if (src.empty()) return;
  use_device();
  check_cuda(cudaMemcpy2DAsync(dst.data(), float_bytes(dst.stride()), src.data(),
                               float_bytes(src.stride()), float_bytes(src.cols()),
                               static_cast<size_t>(src.rows()), cudaMemcpyDeviceToDevice, stream_),
             "cudaMemcpy2DAsync (copy)");
}

void CudaBackend::fill_zero(Tensor& dst) {
  if (dst.empty()) return;
  use_device();
  check_cuda(cudaMemset2DAsync(dst.data(), float_bytes(dst.stride()), 0, float_bytes(dst.cols()),
                               static_cast<size_t>(dst.rows()), stream_),
             "cudaMemset2DAsync (fill_zero)");
}

std::unique_ptr<LinearWeight> CudaBackend::upload_linear(const float* weight, int64_t out_features,
                                                         int64_t in_features, const float* bias) {
  use_device();
  auto w = std::make_unique<CudaLinearWeight>(out_features, in_features);
  const int64_t count = out_features * in_features;
  std::shared_ptr<void> f32 = scratch(float_bytes(count));
  copy_from_host(f32.get(), weight, float_bytes(count), "cudaMemcpyAsync (weight upload)");
  if (dtype_ == ComputeDType::kBF16) {
    w->weight_bytes = count * 2;
    w->weight = scratch(static_cast<size_t>(w->weight_bytes));
    launch_to_bf16(static_cast<const float*>(f32.get()), in_features,
                   static_cast<uint16_t*>(w->weight.get()), in_features, out_features, in_features,
                   stream_);
    // f32 goes back to the pool here, after the conversion queued above.
  } else {
    w->weight_bytes = count * 4;
    w->weight = std::move(f32);
  }
  if (bias != nullptr) {
    w->bias = scratch(float_bytes(out_features));
    copy_from_host(w->bias.get(), bias, float_bytes(out_features), "cudaMemcpyAsync (bias upload)");
  }
  return w;
}

void CudaBackend::embed(const int32_t* ids, int64_t count, const LinearWeight& table, Tensor& out) {
  const auto& w = static_cast<const CudaLinearWeight&>(table);
  if (out.cols() != w.in_features() || out.rows() < count) {
    throw EngineError(ErrorCode::kInternal, "embed: shape mismatch");
  }
  if (count == 0) return;
  use_device();
  std::shared_ptr<void> device_ids = scratch(static_cast<size_t>(count) * sizeof(int32_t));
  copy_from_host(device_ids.get(), ids, static_cast<size_t>(count) * sizeof(int32_t),
                 "cudaMemcpyAsync (token ids)");
  const auto* device = static_cast<const int32_t*>(device_ids.get());
  const int64_t cols = w.in_features();
  if (dtype_ == ComputeDType::kBF16) {  // upload_linear stored bf16 bits
    launch_embed_bf16(device, count, static_cast<const uint16_t*>(w.weight.get()), cols, out.data(),
                      out.stride(), stream_);
  } else {
    launch_embed(device, count, static_cast<const float*>(w.weight.get()), cols, cols, out.data(),
                 out.stride(), stream_);
  }
}

void CudaBackend::linear(const Tensor& x, const LinearWeight& weight, Tensor& y) {
  const auto& w = static_cast<const CudaLinearWeight&>(weight);
  if (x.cols() != w.in_features() || y.cols() != w.out_features() || x.rows() != y.rows()) {
    throw EngineError(ErrorCode::kInternal, "linear: shape mismatch");
  }
  if (x.rows() == 0) return;
  use_device();
  const int64_t n = x.rows(), in = w.in_features(), out = w.out_features();
  // y [n, out] = x [n, in] W^T, W stored [out, in].
  const cudaDataType_t type = dtype_ == ComputeDType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
  GemmPlan plan = linear_plan(n, in, out, x.stride(), y.stride());
  GemmBuffer activations{x.data(), CUDA_R_32F};
  std::shared_ptr<void> x_bf16;
  if (dtype_ == ComputeDType::kBF16) {
    // bf16 activations, converted once here (contiguous), fp32 accumulation.
    x_bf16 = scratch(static_cast<size_t>(n * in) * 2);
    launch_to_bf16(x.data(), x.stride(), static_cast<uint16_t*>(x_bf16.get()), in, n, in, stream_);
    activations = GemmBuffer{x_bf16.get(), CUDA_R_16BF};
    plan.a.ld = in;
  }
  {
    std::lock_guard<std::mutex> lock(cublas_mutex_);
    run_gemm(cublas_, plan, 1.0f, activations, GemmBuffer{w.weight.get(), type}, y.data(),
             CUDA_R_32F, "cublasGemmEx (linear)");
  }
  if (w.bias) {
    launch_add_bias(y.data(), y.stride(), static_cast<const float*>(w.bias.get()), n, out, stream_);
  }
}

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y) {
  check_same_shape(x, y, "rms_norm");
  use_device();
  launch_rms_norm(x.data(), x.stride(), weight.data(), eps, y.data(), y.stride(), x.rows(),
                  x.cols(), stream_);
}

void CudaBackend::rms_norm_heads(const Tensor& x, const Tensor& weight, float eps, Tensor& y) {
  check_same_shape(x, y, "rms_norm_heads");
  const int64_t d = weight.cols();
  if (d <= 0 || x.cols() % d != 0) {
    throw EngineError(ErrorCode::kInternal, "rms_norm_heads: columns are not whole heads");
  }
  use_device();
  launch_rms_norm_heads(x.data(), x.stride(), weight.data(), eps, y.data(), y.stride(), x.rows(),
                        x.cols() / d, d, stream_);
}

void CudaBackend::add(Tensor& y, const Tensor& x) {
  check_same_shape(x, y, "add");
  use_device();
  launch_add(y.data(), y.stride(), x.data(), x.stride(), y.rows(), y.cols(), stream_);
}

void CudaBackend::swiglu(const Tensor& gate, const Tensor& up, Tensor& out) {
  check_same_shape(gate, out, "swiglu");
  check_same_shape(up, out, "swiglu");
  use_device();
  launch_swiglu(gate.data(), gate.stride(), up.data(), up.stride(), out.data(), out.stride(),
                out.rows(), out.cols(), stream_);
}

void CudaBackend::synchronize() {
  use_device();
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

}  // namespace infini::cuda
