// A 2-D float32 tensor in a backend's memory. Model code passes these to
// backend operations and never dereferences them, so the same model code
// drives host memory (CPU backend) or device memory (CUDA backend, engine/cuda/).
#pragma once

#include <cstdint>
#include <memory>

namespace infini {

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<float> storage, float* data, int64_t rows, int64_t cols, int64_t stride)
      : storage_(std::move(storage)), data_(data), rows_(rows), cols_(cols), stride_(stride) {}

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Distance in floats between the starts of two rows (>= cols for views).
  int64_t stride() const { return stride_; }
  bool contiguous() const { return stride_ == cols_; }
  bool empty() const { return rows_ == 0 || cols_ == 0; }
  int64_t bytes() const { return rows_ * cols_ * static_cast<int64_t>(sizeof(float)); }

  // Backend-owned address; only backends read or write through it.
  float* data() const { return data_; }

  // Views share storage with this tensor.
  Tensor row_range(int64_t begin, int64_t count) const {
    return Tensor(storage_, data_ + begin * stride_, count, cols_, stride_);
  }
  Tensor col_range(int64_t begin, int64_t count) const {
    return Tensor(storage_, data_ + begin, rows_, count, stride_);
  }

 private:
  std::shared_ptr<float> storage_;
  float* data_ = nullptr;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int64_t stride_ = 0;
};

}  // namespace infini
