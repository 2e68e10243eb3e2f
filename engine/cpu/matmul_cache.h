// oneDNN matmul primitives, created once per shape and reused. oneDNN JIT
// compiles a kernel per primitive (tens to hundreds of microseconds), so
// creating one per call would dominate small products.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

namespace infini::cpu {

enum class MatmulDType { kF32, kBF16 };

// C[M,N] (f32, row stride ldc) = alpha * A[M,K] B[K,N] (+ bias[N]) (+ C if
// accumulate). A is row-major with row stride lda; B is addressed with
// element strides (b_row, b_col), so B or B^T are the same call.
struct MatmulShape {
  int64_t m = 0, k = 0, n = 0;
  int64_t lda = 0;
  int64_t b_row = 0, b_col = 0;
  int64_t ldc = 0;
  MatmulDType dtype = MatmulDType::kF32;
  float alpha = 1.0f;
  bool accumulate = false;
  bool bias = false;
  // OpenMP threads of the calling thread: oneDNN plans a primitive's work
  // for the thread count it was created with, so that count is part of the key.
  int threads = 0;
  bool operator==(const MatmulShape&) const = default;
};

struct MatmulShapeHash {
  size_t operator()(const MatmulShape& s) const;
};

class MatmulCache {
 public:
  explicit MatmulCache(size_t capacity);
  const dnnl::engine& engine() const { return engine_; }

  // a, b are float* or uint16_t* (bf16) per shape.dtype; bias is f32.
  // shape.threads is filled in here.
  void run(MatmulShape shape, const void* a, const void* b, const float* bias, float* c);
  size_t size() const;

 private:
  struct Entry {
    dnnl::matmul primitive;
    dnnl::memory::desc a, b, c, bias, scratchpad;
  };
  std::shared_ptr<const Entry> get(const MatmulShape& shape);
  std::shared_ptr<const Entry> create(const MatmulShape& shape) const;

  dnnl::engine engine_;
  size_t capacity_;
  mutable std::mutex mutex_;
  // Least recently used at the back.
  std::list<std::pair<MatmulShape, std::shared_ptr<const Entry>>> order_;
  std::unordered_map<MatmulShape, decltype(order_)::iterator, MatmulShapeHash> index_;
};

}  // namespace infini::cpu
