// The device seam. The model code (model.cc, infini_attention.cc) calls only
// these operations; a backend owns its memory, its library handles and its
// threads. The CPU backend uses oneDNN; a CUDA backend implements the same
// interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace infini {

// Precision of the matrix products. Activations between operations, norms,
// softmax statistics and the compressive memory (M, z) are always float32.
enum class ComputeDType { kF32, kBF16 };

const char* compute_dtype_name(ComputeDType dtype);
ComputeDType parse_compute_dtype(const std::string& name);  // "f32" | "bf16"

// A weight matrix W [out, in] (+ optional bias [out]) prepared for y = x W^T + b.
class LinearWeight {
 public:
  virtual ~LinearWeight() = default;
  virtual int64_t out_features() const = 0;
  virtual int64_t in_features() const = 0;
  virtual int64_t bytes() const = 0;
};

// Head layout of one attention layer, and its rotary frequencies.
struct AttentionShape {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t segment_size = 0;
  // head_dim / 2 inverse frequencies, in double: pair (i, i + d/2) at
  // position p turns by p * rope_inv_freq[i]. Plain RoPE has
  // theta^(-2i/d) (default_rope_inv_freq); rope scaling (Llama 3's) changes
  // them (ModelConfig::rope_inv_freq). Backends cache tables per value.
  std::vector<double> rope_inv_freq;
};

// The window's keys with RoPE applied, kept from call to call so that a
// backend may rotate each key once instead of the whole window at every
// call (decode on the CPU otherwise re-rotated up to S keys per layer per
// token). Belongs to the window (LayerState); the backend allocates `keys`
// on first use, or never touches it.
struct RotatedKeys {
  Tensor keys;       // [S, Hkv*d] once allocated
  int64_t rows = 0;  // rows 0 .. rows-1 hold keys rotated (of this segment if < first)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual ComputeDType dtype() const = 0;

  // Memory. New tensors are zero-filled and contiguous.
  virtual Tensor allocate(int64_t rows, int64_t cols) = 0;
  virtual Tensor upload(const float* host, int64_t rows, int64_t cols) = 0;
  virtual void download(const Tensor& src, float* host) = 0;
  virtual void copy(const Tensor& src, Tensor& dst) = 0;  // same shape
  virtual void fill_zero(Tensor& dst) = 0;

  // Uploads W (any checkpoint dtype) and an optional bias; `rows` of several
  // matrices may be stacked by the caller (e.g. q, k and v in one product).
  virtual std::unique_ptr<LinearWeight> upload_linear(const float* weight, int64_t out_features,
                                                      int64_t in_features, const float* bias) = 0;

  // out[i] = row ids[i] of the table [vocab, hidden], in float32; ids live on
  // the host and are already range-checked. The table is a weight like any
  // other (bf16 on the bf16 path), so a tied lm_head shares it and no fp32
  // copy of a bf16 checkpoint's embeddings is kept.
  virtual void embed(const int32_t* ids, int64_t count, const LinearWeight& table, Tensor& out) = 0;
  // y = x W^T + b.
  virtual void linear(const Tensor& x, const LinearWeight& weight, Tensor& y) = 0;
  // y = x / sqrt(mean(x^2) + eps) * weight, weight a [1, cols] tensor, per row.
  virtual void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y) = 0;
  // The same per head: every row of x is heads blocks of weight.cols() (= d)
  // columns, and each block is normalised on its own with the one [1, d]
  // weight (Qwen3's q_norm / k_norm). y may be x.
  virtual void rms_norm_heads(const Tensor& x, const Tensor& weight, float eps, Tensor& y) = 0;
  // y += x.
  virtual void add(Tensor& y, const Tensor& x) = 0;
  // out = silu(gate) * up.
  virtual void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;

  // Causal dot-product attention inside one segment. q: [n, H*d] for the
  // tokens at segment offsets first .. first+n-1 (no RoPE yet); keys, values:
  // the segment's window [>= first+n, Hkv*d] (keys without RoPE). RoPE is
  // applied to q and keys using segment offsets as positions. `rotated`, the
  // window's cache of rotated keys, may be used and updated (see RotatedKeys).
  virtual void local_attention(const Tensor& q, const Tensor& keys, const Tensor& values,
                               int64_t first, const AttentionShape& shape, RotatedKeys& rotated,
                               Tensor& out) = 0;
  // out = (sigma(q) M) / (sigma(q) z) per head, 0 where the denominator is 0.
  // memory: [Hkv*d, d] (rows of head g are g*d .. g*d+d-1), norm: [Hkv, d].
  virtual void memory_retrieve(const Tensor& q, const Tensor& memory, const Tensor& norm,
                               const AttentionShape& shape, Tensor& out) = 0;
  // dot = g * mem + (1 - g) * dot with g = sigmoid(gate_logits[h]) per head
  // (gate_logits: [1, H]).
  virtual void gate_mix(const Tensor& mem, const Tensor& gate_logits, const AttentionShape& shape,
                        Tensor& dot) = 0;
  // Folds a completed segment (keys without RoPE, values: [S, Hkv*d]) into
  // memory and norm with the linear or delta rule.
  virtual void memory_update(const Tensor& keys, const Tensor& values, MemoryUpdate rule,
                             const AttentionShape& shape, Tensor& memory, Tensor& norm) = 0;

  // Runs body(0) .. body(count - 1), bodies that touch disjoint states (a
  // decode batch's per-sequence attention): side by side where the backend
  // can (the CPU's OpenMP team, each body's operations then on one thread),
  // one after another otherwise (the default). An exception from a body is
  // rethrown once all have run.
  virtual void for_each_piece(int64_t count, const std::function<void(int64_t)>& body) {
    for (int64_t i = 0; i < count; ++i) body(i);
  }

  // Waits for queued work (no-op on the CPU).
  virtual void synchronize() {}
};

// The backends this build has ("cpu", and "cuda" when built with the CUDA
// toolkit; whether a device is present is only known when one is made).
std::vector<std::string> backend_names();

// Creates the backend named `name` ("cpu" or "cuda"). Throws
// EngineError(kUnsupported) with the reason for "cuda" in a build without
// CUDA or on a machine without a usable device, and
// EngineError(kInvalidArgument) for any other name.
std::unique_ptr<Backend> make_backend(const std::string& name, ComputeDType dtype);

}  // namespace infini
