#include "engine/cpu/cpu_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

#include "engine/cpu/cpu_gemv.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/error.h"
#include "engine/float_convert.h"

namespace infini::cpu {

namespace {

// A weight matrix kept as [out, in] row-major, the layout oneDNN reads as
// B = W^T with strides (1, in) without any reordering.
class CpuLinearWeight final : public LinearWeight {
 public:
  CpuLinearWeight(int64_t out, int64_t in) : out_(out), in_(in) {}
  int64_t out_features() const override { return out_; }
  int64_t in_features() const override { return in_; }
  int64_t bytes() const override {
    return static_cast<int64_t>(f32.size() * 4 + bf16.size() * 2 + bias.size() * 4);
  }

  int64_t out_, in_;
  std::vector<float> f32;      // fp32 path
  std::vector<uint16_t> bf16;  // bf16 path
  std::vector<float> bias;     // empty when the checkpoint has none
};

// Products of up to this many rows (one decode sequence, or two or three
// batched) go to gemv_bf16_rows; larger ones (bigger decode batches,
// prompts, segments) to oneDNN. Measured with `infini bench --shape
// smollm2-135m --batch 1,2,4,8,16,32,64` with this at 3 and at 64
// (docs/benchmarks.md): the row kernel streams the weights near the read
// bandwidth but is bound by its dot-product instructions (about 160
// GFLOP/s) as rows are added; at 4 rows a step took 36.0 ms against
// oneDNN's 30.3, at 16 rows 71.3 against 47.7.
constexpr int64_t kDecodeBatchRows = 3;

}  // namespace

CpuBackend::CpuBackend(ComputeDType dtype) : dtype_(dtype), matmuls_(1024) {}

std::string CpuBackend::name() const {
  return std::string("cpu-onednn-") + compute_dtype_name(dtype_);
}

void CpuBackend::for_each_piece(int64_t count, const std::function<void(int64_t)>& body) {
  if (count <= 1) {
    if (count == 1) body(0);
    return;
  }
  std::exception_ptr failure;
  std::mutex failure_mutex;
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < count; ++i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

Tensor CpuBackend::allocate(int64_t rows, int64_t cols) {
  const size_t count = static_cast<size_t>(rows * cols);
  // calloc: large blocks come as fresh zero pages from the kernel, so a
  // session's window is not written until it is used.
  float* data = static_cast<float*>(std::calloc(count > 0 ? count : 1, sizeof(float)));
  if (data == nullptr) throw std::bad_alloc();
  std::shared_ptr<float> storage(data, [](float* p) { std::free(p); });
  return Tensor(storage, storage.get(), rows, cols, cols);
}

Tensor CpuBackend::upload(const float* host, int64_t rows, int64_t cols) {
  Tensor t = allocate(rows, cols);
  std::memcpy(t.data(), host, static_cast<size_t>(t.bytes()));
  return t;
}

void CpuBackend::download(const Tensor& src, float* host) {
  for (int64_t r = 0; r < src.rows(); ++r) {
    std::memcpy(host + r * src.cols(), src.data() + r * src.stride(),
                static_cast<size_t>(src.cols()) * sizeof(float));
  }
}

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  if (src.rows() != dst.rows() || src.cols() != dst.cols()) {
    throw EngineError(ErrorCode::kInternal, "copy between tensors of different shapes");
  }
  for (int64_t r = 0; r < src.rows(); ++r) {
    std::memcpy(dst.data() + r * dst.stride(), src.data() + r * src.stride(),
                static_cast<size_t>(src.cols()) * sizeof(float));
  }
}

void CpuBackend::fill_zero(Tensor& dst) {
  for (int64_t r = 0; r < dst.rows(); ++r) {
    std::memset(dst.data() + r * dst.stride(), 0, static_cast<size_t>(dst.cols()) * sizeof(float));
  }
}

std::unique_ptr<LinearWeight> CpuBackend::upload_linear(const float* weight, int64_t out_features,
                                                        int64_t in_features, const float* bias) {
  auto w = std::make_unique<CpuLinearWeight>(out_features, in_features);
  const size_t count = static_cast<size_t>(out_features * in_features);
  if (dtype_ == ComputeDType::kBF16) {
    w->bf16.resize(count);
    to_bf16(weight, w->bf16.data(), static_cast<int64_t>(count));
  } else {
    w->f32.assign(weight, weight + count);
  }
  if (bias != nullptr) w->bias.assign(bias, bias + out_features);
  return w;
}

void CpuBackend::embed(const int32_t* ids, int64_t count, const LinearWeight& table, Tensor& out) {
  const auto& w = static_cast<const CpuLinearWeight&>(table);
  const int64_t cols = w.in_features();
  if (out.cols() != cols || out.rows() < count) {
    throw EngineError(ErrorCode::kInternal, "embed: shape mismatch");
  }
  for (int64_t i = 0; i < count; ++i) {
    float* row = out.data() + i * out.stride();
    if (w.bf16.empty()) {
      std::memcpy(row, w.f32.data() + ids[i] * cols, static_cast<size_t>(cols) * sizeof(float));
    } else {
      const uint16_t* bits = w.bf16.data() + ids[i] * cols;
      for (int64_t c = 0; c < cols; ++c) row[c] = bf16_to_float(bits[c]);
    }
  }
}

void CpuBackend::linear(const Tensor& x, const LinearWeight& weight, Tensor& y) {
  const auto& w = static_cast<const CpuLinearWeight&>(weight);
  if (x.cols() != w.in_features() || y.cols() != w.out_features() || x.rows() != y.rows()) {
    throw EngineError(ErrorCode::kInternal, "linear: shape mismatch");
  }
  if (x.rows() == 0) return;
  MatmulShape s;
  s.m = x.rows();
  s.k = w.in_features();
  s.n = w.out_features();
  s.b_row = 1;
  s.b_col = w.in_features();
  s.ldc = y.stride();
  s.bias = !w.bias.empty();
  const float* bias = s.bias ? w.bias.data() : nullptr;
  if (dtype_ == ComputeDType::kBF16) {
    // bf16 activations: converted once here, accumulated in fp32 by oneDNN.
    std::vector<uint16_t> xb(static_cast<size_t>(s.m * s.k));
#pragma omp parallel for if (s.m > 8)
    for (int64_t r = 0; r < s.m; ++r) to_bf16(x.data() + r * x.stride(), xb.data() + r * s.k, s.k);
    if (s.m <= kDecodeBatchRows && y.stride() >= s.n && gemv_bf16_supported()) {
      // Decode, one sequence or a batch: each weight row read once for all
      // rows, and each row's result the one it gets alone (cpu_gemv.h).
      gemv_bf16_rows(w.bf16.data(), xb.data(), s.k, s.m, bias, y.data(), y.stride(), s.n, s.k);
      return;
    }
    s.lda = s.k;
    s.dtype = MatmulDType::kBF16;
    matmuls_.run(s, xb.data(), w.bf16.data(), bias, y.data());
  } else {
    s.lda = x.stride();
    matmuls_.run(s, x.data(), w.f32.data(), bias, y.data());
  }
}

void CpuBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y) {
  const int64_t cols = x.cols();
  const float* w = weight.data();
#pragma omp parallel for if (x.rows() > 8)
  for (int64_t r = 0; r < x.rows(); ++r) {
    const float* in = x.data() + r * x.stride();
    float* out = y.data() + r * y.stride();
    double sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(in[c]) * in[c];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(cols) + eps));
    for (int64_t c = 0; c < cols; ++c) out[c] = in[c] * inv * w[c];
  }
}

void CpuBackend::rms_norm_heads(const Tensor& x, const Tensor& weight, float eps, Tensor& y) {
  const int64_t d = weight.cols();
  if (d <= 0 || x.cols() % d != 0 || y.cols() != x.cols() || y.rows() != x.rows()) {
    throw EngineError(ErrorCode::kInternal, "rms_norm_heads: shape mismatch");
  }
  const int64_t heads = x.cols() / d;
  const float* w = weight.data();
#pragma omp parallel for if (x.rows() > 8)
  for (int64_t r = 0; r < x.rows(); ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const float* in = x.data() + r * x.stride() + h * d;
      float* out = y.data() + r * y.stride() + h * d;
      double sum = 0.0;
      for (int64_t c = 0; c < d; ++c) sum += static_cast<double>(in[c]) * in[c];
      const float inv = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(d) + eps));
      for (int64_t c = 0; c < d; ++c) out[c] = in[c] * inv * w[c];  // in place is fine: c by c
    }
  }
}

void CpuBackend::add(Tensor& y, const Tensor& x) {
  const int64_t cols = y.cols();
#pragma omp parallel for if (y.rows() > 8)
  for (int64_t r = 0; r < y.rows(); ++r) {
    float* out = y.data() + r * y.stride();
    const float* in = x.data() + r * x.stride();
    for (int64_t c = 0; c < cols; ++c) out[c] += in[c];
  }
}

void CpuBackend::swiglu(const Tensor& gate, const Tensor& up, Tensor& out) {
  const int64_t cols = out.cols();
#pragma omp parallel for if (out.rows() > 8)
  for (int64_t r = 0; r < out.rows(); ++r) {
    const float* g = gate.data() + r * gate.stride();
    const float* u = up.data() + r * up.stride();
    float* o = out.data() + r * out.stride();
    silu_mul(g, u, o, cols);
  }
}

}  // namespace infini::cpu
