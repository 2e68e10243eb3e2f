// The attention-side operations of the CPU backend: segment-local causal
// attention with RoPE, and the compressive memory's retrieval and update.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/cpu_kernels.h"
#include "engine/error.h"

namespace infini::cpu {

namespace {

// Queries are processed in blocks so that a block only multiplies against the
// keys it can see (causal), halving the work of a full segment, and the score
// block stays small enough for the cache.
constexpr int64_t kQueryBlock = 256;
// Below this many queries, primitive creation would cost more than the work:
// plain loops do it (decode runs one token at a time).
constexpr int64_t kSmallBatch = 4;

std::unique_ptr<float[]> scratch(int64_t count) {
  return std::make_unique_for_overwrite<float[]>(static_cast<size_t>(count > 0 ? count : 1));
}

}  // namespace

const CpuBackend::RopeTable& CpuBackend::rope_table(const AttentionShape& shape) {
  if (static_cast<int64_t>(shape.rope_inv_freq.size()) != shape.head_dim / 2) {
    throw EngineError(ErrorCode::kInternal,
                      "local_attention: rope_inv_freq needs head_dim / 2 values");
  }
  std::lock_guard<std::mutex> lock(rope_mutex_);
  auto& slot = rope_tables_[std::make_pair(shape.segment_size, shape.rope_inv_freq)];
  if (!slot) {
    auto table = std::make_unique<RopeTable>();
    const int64_t half = shape.head_dim / 2;
    table->cos.resize(static_cast<size_t>(shape.segment_size * half));
    table->sin.resize(table->cos.size());
    for (int64_t pos = 0; pos < shape.segment_size; ++pos) {
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos) * shape.rope_inv_freq[i];
        table->cos[pos * half + i] = static_cast<float>(std::cos(angle));
        table->sin[pos * half + i] = static_cast<float>(std::sin(angle));
      }
    }
    slot = std::move(table);
  }
  return *slot;
}

void CpuBackend::local_attention(const Tensor& q, const Tensor& keys, const Tensor& values,
                                 int64_t first, const AttentionShape& shape, RotatedKeys& rotated,
                                 Tensor& out) {
  const int64_t n = q.rows();
  const int64_t total = first + n;  // keys visible to the last query
  const int64_t H = shape.num_heads, G = shape.num_kv_heads, d = shape.head_dim;
  const int64_t group = H / G;
  const int64_t qw = H * d, kw = G * d;
  if (total > keys.rows() || total > shape.segment_size) {
    throw EngineError(ErrorCode::kInternal, "local_attention: queries past the segment window");
  }
  const RopeTable& rope = rope_table(shape);
  const int64_t half = d / 2;

  auto qr = scratch(n * qw);
#pragma omp parallel for if (n > 8)
  for (int64_t i = 0; i < n; ++i) {
    rope_row(q.data() + i * q.stride(), qr.get() + i * qw, H, d, &rope.cos[(first + i) * half],
             &rope.sin[(first + i) * half]);
  }
  // Each key is rotated once, when it enters the window: rows below `first`
  // that the cache holds are this segment's already (a row at or past
  // `first` may be a past segment's, so the count is capped there).
  if (rotated.keys.empty()) rotated.keys = allocate(shape.segment_size, kw);
  const int64_t done = std::min(rotated.rows, first);
  float* kr = rotated.keys.data();
#pragma omp parallel for if (total - done > 8)
  for (int64_t j = done; j < total; ++j) {
    rope_row(keys.data() + j * keys.stride(), kr + j * kw, G, d, &rope.cos[j * half],
             &rope.sin[j * half]);
  }
  rotated.rows = total;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));

  if (n <= kSmallBatch) {
    // One (query, head) pair per iteration, each with its own row of
    // scores: deep in the window this loop is most of a decode step, and
    // run on one thread it left the other core waiting (issue #19).
    auto probs = scratch(n * H * total);
#pragma omp parallel for collapse(2) if (total * H > 2048)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t visible = first + i + 1;
        const int64_t g = h / group;
        float* p = probs.get() + (i * H + h) * total;
        const float* qi = qr.get() + i * qw + h * d;
        for (int64_t j = 0; j < visible; ++j) {
          p[j] = scale * dot_product(qi, kr + j * kw + g * d, d);
        }
        softmax_prefix(p, visible, visible);
        float* o = out.data() + i * out.stride() + h * d;
        for (int64_t c = 0; c < d; ++c) o[c] = 0.0f;
        for (int64_t j = 0; j < visible; ++j) {
          add_scaled(o, values.data() + j * values.stride() + g * d, p[j], d);
        }
      }
    }
    return;
  }

  const bool bf16 = dtype_ == ComputeDType::kBF16;
  std::vector<uint16_t> qb, kb, vb;
  if (bf16) {
    qb.resize(static_cast<size_t>(n * qw));
    kb.resize(static_cast<size_t>(total * kw));
    vb.resize(static_cast<size_t>(total * kw));
    to_bf16(qr.get(), qb.data(), n * qw);
    to_bf16(kr, kb.data(), total * kw);
    for (int64_t j = 0; j < total; ++j) {
      to_bf16(values.data() + j * values.stride(), vb.data() + j * kw, kw);
    }
  }
  const int64_t block = std::min(kQueryBlock, n);
  auto scores = scratch(block * total);
  std::vector<uint16_t> probs_bf16(bf16 ? static_cast<size_t>(block * total) : 0);

  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / group;
    for (int64_t r0 = 0; r0 < n; r0 += block) {
      const int64_t rows = std::min(block, n - r0);
      const int64_t visible = first + r0 + rows;  // keys the block's last query sees
      MatmulShape qk;
      qk.m = rows;
      qk.k = d;
      qk.n = visible;
      qk.lda = qw;
      qk.b_row = 1;
      qk.b_col = kw;
      qk.ldc = visible;
      qk.alpha = scale;
      qk.dtype = bf16 ? MatmulDType::kBF16 : MatmulDType::kF32;
      if (bf16) {
        matmuls_.run(qk, qb.data() + r0 * qw + h * d, kb.data() + g * d, nullptr, scores.get());
      } else {
        matmuls_.run(qk, qr.get() + r0 * qw + h * d, kr + g * d, nullptr, scores.get());
      }
#pragma omp parallel for
      for (int64_t i = 0; i < rows; ++i) {
        float* row = scores.get() + i * visible;
        softmax_prefix(row, first + r0 + i + 1, visible);
        if (bf16) to_bf16(row, probs_bf16.data() + i * visible, visible);
      }
      MatmulShape pv;
      pv.m = rows;
      pv.k = visible;
      pv.n = d;
      pv.lda = visible;
      pv.ldc = out.stride();
      pv.dtype = qk.dtype;
      float* dst = out.data() + r0 * out.stride() + h * d;
      if (bf16) {
        pv.b_row = kw;
        pv.b_col = 1;
        matmuls_.run(pv, probs_bf16.data(), vb.data() + g * d, nullptr, dst);
      } else {
        pv.b_row = values.stride();
        pv.b_col = 1;
        matmuls_.run(pv, scores.get(), values.data() + g * d, nullptr, dst);
      }
    }
  }
}

void CpuBackend::memory_retrieve(const Tensor& q, const Tensor& memory, const Tensor& norm,
                                 const AttentionShape& shape, Tensor& out) {
  const int64_t n = q.rows();
  const int64_t H = shape.num_heads, d = shape.head_dim;
  const int64_t group = H / shape.num_kv_heads;
  const int64_t qw = H * d;
  auto sq = scratch(n * qw);
#pragma omp parallel for if (n > 8)
  for (int64_t i = 0; i < n; ++i) elu_plus_one(q.data() + i * q.stride(), sq.get() + i * qw, qw);

  for (int64_t h = 0; h < H; ++h) {
    const int64_t g = h / group;
    const float* m = memory.data() + g * d * memory.stride();
    const float* z = norm.data() + g * norm.stride();
    if (n <= kSmallBatch) {
      for (int64_t i = 0; i < n; ++i) {
        float* o = out.data() + i * out.stride() + h * d;
        const float* s = sq.get() + i * qw + h * d;
        for (int64_t c = 0; c < d; ++c) o[c] = 0.0f;
        for (int64_t r = 0; r < d; ++r) {
          const float* mr = m + r * memory.stride();
          for (int64_t c = 0; c < d; ++c) o[c] += s[r] * mr[c];
        }
      }
    } else {
      MatmulShape s;
      s.m = n;
      s.k = d;
      s.n = d;
      s.lda = qw;
      s.b_row = memory.stride();
      s.b_col = 1;
      s.ldc = out.stride();
      matmuls_.run(s, sq.get() + h * d, m, nullptr, out.data() + h * d);
    }
#pragma omp parallel for if (n > 8)
    for (int64_t i = 0; i < n; ++i) {
      const float den = dot_product(sq.get() + i * qw + h * d, z, d);
      float* o = out.data() + i * out.stride() + h * d;
      const float inv = den != 0.0f ? 1.0f / den : 0.0f;
      for (int64_t c = 0; c < d; ++c) o[c] *= inv;
    }
  }
}

void CpuBackend::gate_mix(const Tensor& mem, const Tensor& gate_logits, const AttentionShape& shape,
                          Tensor& dot_out) {
  const int64_t H = shape.num_heads, d = shape.head_dim;
  std::vector<float> gate(static_cast<size_t>(H));
  for (int64_t h = 0; h < H; ++h) gate[h] = 1.0f / (1.0f + std::exp(-gate_logits.data()[h]));
#pragma omp parallel for if (dot_out.rows() > 8)
  for (int64_t i = 0; i < dot_out.rows(); ++i) {
    float* o = dot_out.data() + i * dot_out.stride();
    const float* m = mem.data() + i * mem.stride();
    for (int64_t h = 0; h < H; ++h) {
      const float g = gate[h];
      for (int64_t c = h * d; c < (h + 1) * d; ++c) o[c] = g * m[c] + (1.0f - g) * o[c];
    }
  }
}

void CpuBackend::memory_update(const Tensor& keys, const Tensor& values, MemoryUpdate rule,
                               const AttentionShape& shape, Tensor& memory, Tensor& norm) {
  const int64_t S = keys.rows();
  const int64_t G = shape.num_kv_heads, d = shape.head_dim;
  const int64_t kw = G * d;
  auto sk = scratch(S * kw);
#pragma omp parallel for
  for (int64_t j = 0; j < S; ++j) {
    elu_plus_one(keys.data() + j * keys.stride(), sk.get() + j * kw, kw);
  }
  auto sk_t = scratch(d * S);    // sigma(K_g)^T, the A operand of M += sK^T V
  auto update = scratch(S * d);  // V, or V minus what memory already returns (delta)
  for (int64_t g = 0; g < G; ++g) {
    float* m = memory.data() + g * d * memory.stride();
    float* z = norm.data() + g * norm.stride();
    for (int64_t j = 0; j < S; ++j) {
      const float* s = sk.get() + j * kw + g * d;
      const float* v = values.data() + j * values.stride() + g * d;
      for (int64_t i = 0; i < d; ++i) {
        sk_t[i * S + j] = s[i];
        update[j * d + i] = v[i];
      }
    }
    if (rule == MemoryUpdate::kDelta) {
      // Retrieval with the memory before this update, row by row.
      auto retrieved = scratch(S * d);
      MatmulShape r;
      r.m = S;
      r.k = d;
      r.n = d;
      r.lda = kw;
      r.b_row = memory.stride();
      r.b_col = 1;
      r.ldc = d;
      matmuls_.run(r, sk.get() + g * d, m, nullptr, retrieved.get());
#pragma omp parallel for
      for (int64_t j = 0; j < S; ++j) {
        const float den = dot_product(sk.get() + j * kw + g * d, z, d);
        if (den == 0.0f) continue;
        const float inv = 1.0f / den;
        for (int64_t i = 0; i < d; ++i) update[j * d + i] -= retrieved[j * d + i] * inv;
      }
    }
    MatmulShape u;
    u.m = d;
    u.k = S;
    u.n = d;
    u.lda = S;
    u.b_row = d;
    u.b_col = 1;
    u.ldc = memory.stride();
    u.accumulate = true;
    matmuls_.run(u, sk_t.get(), update.get(), nullptr, m);
    for (int64_t i = 0; i < d; ++i) {
      float sum = 0.0f;
      for (int64_t j = 0; j < S; ++j) sum += sk_t[i * S + j];
      z[i] += sum;
    }
  }
}

}  // namespace infini::cpu
