// The matrix products of the CUDA backend described as plain data, so that
// their shapes, offsets and strides, and the row-major -> column-major
// mapping handed to cuBLAS, are checked on any machine
// (tests/engine/cuda_kernel_math_test.cc runs them through a naive
// column-major GEMM with cuBLAS's semantics).
//
// Row-major to cuBLAS: a row-major matrix X [r, c] with leading dimension ld
// is, read column-major, X^T [c, r] with the same ld. So the row-major
// product C = op(A) op(B) (C: M x N) is, column-major, C^T = op(B)^T op(A)^T
// (N x M): cuBLAS gets B first and A second, m = N, n = M, k = K, and the
// transposes carry over (a row-major operand used as stored is OP_N on its
// column-major view, one used transposed is OP_T). Linear, for example:
// y [n, out] = x [n, in] W^T with W stored [out, in] becomes y^T = op_T(W's
// column-major view [in, out]) x^T, m = out, n = n, k = in, lda = in.
#pragma once

#include <cstdint>
#include <vector>

namespace infini::cuda {

// A row-major operand: `offset` elements from its buffer's start, row stride
// `ld`, `batch_stride` elements between the matrices of a batch; used as
// stored or transposed.
struct MatrixRef {
  int64_t offset = 0;
  int64_t ld = 0;
  int64_t batch_stride = 0;
  bool transposed = false;
};

// C = alpha op(A) op(B) + beta C, row-major, C: M x N, `batch` times.
struct GemmPlan {
  int64_t M = 0, N = 0, K = 0;
  MatrixRef a, b, c;
  int64_t batch = 1;
  float beta = 0.0f;
};

// The same product as cuBLAS arguments (column-major): op(first) op(second),
// `first` being the row-major B and `second` the row-major A.
struct ColumnMajorGemm {
  bool transpose_first = false, transpose_second = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t ld_first = 0, ld_second = 0, ldc = 0;
  int64_t stride_first = 0, stride_second = 0, stride_c = 0;
};

inline ColumnMajorGemm column_major(const GemmPlan& p) {
  ColumnMajorGemm g;
  g.transpose_first = p.b.transposed;
  g.transpose_second = p.a.transposed;
  g.m = p.N;
  g.n = p.M;
  g.k = p.K;
  g.ld_first = p.b.ld;
  g.ld_second = p.a.ld;
  g.ldc = p.c.ld;
  g.stride_first = p.b.batch_stride;
  g.stride_second = p.a.batch_stride;
  g.stride_c = p.c.batch_stride;
  return g;
}

// y [n, out] = x [n, in] W^T, W stored [out, in] contiguous.
inline GemmPlan linear_plan(int64_t n, int64_t in, int64_t out, int64_t x_ld, int64_t y_ld) {
  GemmPlan p;
  p.M = n;
  p.N = out;
  p.K = in;
  p.a = {0, x_ld, 0, false};
  p.b = {0, in, 0, true};
  p.c = {0, y_ld, 0};
  return p;
}

// Retrieval numerators out_h = sigma(q_h) M_g for the heads h = g * group + r
// of every kv head g: one plan per r, batched over g. A = sigma(q) [n, H*d],
// B = memory [Hkv*d, d], C = out [n, H*d].
inline std::vector<GemmPlan> retrieve_plans(int64_t n, int64_t heads, int64_t kv_heads, int64_t d,
                                            int64_t q_ld, int64_t memory_ld, int64_t out_ld) {
  const int64_t group = heads / kv_heads;
  std::vector<GemmPlan> plans;
  for (int64_t r = 0; r < group; ++r) {
    GemmPlan p;
    p.M = n;
    p.N = d;
    p.K = d;
    p.a = {r * d, q_ld, group * d, false};
    p.b = {0, memory_ld, d * memory_ld, false};
    p.c = {r * d, out_ld, group * d};
    p.batch = kv_heads;
    plans.push_back(p);
  }
  return plans;
}

// The delta rule's retrieval with the memory before the update:
// R_g [S, d] = sigma(K_g) M_g. A = sigma(K) [S, Hkv*d], B = memory, C = R
// [S, Hkv*d].
inline GemmPlan delta_retrieval_plan(int64_t rows, int64_t kv_heads, int64_t d, int64_t sk_ld,
                                     int64_t memory_ld, int64_t r_ld) {
  GemmPlan p;
  p.M = rows;
  p.N = d;
  p.K = d;
  p.a = {0, sk_ld, d, false};
  p.b = {0, memory_ld, d * memory_ld, false};
  p.c = {0, r_ld, d};
  p.batch = kv_heads;
  return p;
}

// M_g += sigma(K_g)^T T_g (T: the values, or the delta rule's target).
// A = sigma(K) [S, Hkv*d] used transposed, B = T [S, Hkv*d], C = memory.
inline GemmPlan memory_update_plan(int64_t rows, int64_t kv_heads, int64_t d, int64_t sk_ld,
                                   int64_t target_ld, int64_t memory_ld) {
  GemmPlan p;
  p.M = d;
  p.N = d;
  p.K = rows;
  p.a = {0, sk_ld, d, true};
  p.b = {0, target_ld, d, false};
  p.c = {0, memory_ld, d * memory_ld};
  p.batch = kv_heads;
  p.beta = 1.0f;
  return p;
}

}  // namespace infini::cuda
