// The mutable state of one session: per layer the compressive memory (M, z)
// and the current segment's window of keys and values, plus the position.
// Its size is fixed by the model's shapes, whatever the document's length.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/model_config.h"

namespace infini {

struct LayerState {
  Tensor memory;  // M: [Hkv*d, d], fp32
  Tensor norm;    // z: [Hkv, d], fp32
  Tensor keys;    // current segment's keys, before RoPE: [S, Hkv*d]
  Tensor values;  // current segment's values: [S, Hkv*d]
};

class SessionState {
 public:
  SessionState(std::shared_ptr<Backend> backend, const ModelConfig& config);

  // A deep copy: asking on a fork never changes this state.
  SessionState fork() const;

  int64_t tokens() const { return tokens_; }
  int64_t segments() const { return segments_; }           // folded into memory
  int64_t segment_offset() const { return tokens_ % segment_size_; }  // tokens in the window

  // Exact bytes this state holds: memory plus the full window allocation.
  int64_t memory_bytes() const;
  int64_t window_bytes() const;
  int64_t state_bytes() const { return memory_bytes() + window_bytes(); }

  std::vector<LayerState>& layers() { return layers_; }
  const std::vector<LayerState>& layers() const { return layers_; }

  // Every float of the state in a fixed order (per layer: M, z, keys,
  // values), with tokens and segments; for snapshots and comparisons.
  std::vector<float> to_host() const;
  // How many floats to_host() returns before its two trailing counters.
  int64_t host_floats() const;
  // The inverse of to_host(): `tensors` is what it returns without the two
  // trailing counters, which come back exact as `tokens` and `segments`.
  // Throws EngineError(kInvalidArgument) when the count does not match this
  // state's shapes or the counters are impossible; the state is then unchanged.
  void restore(const std::vector<float>& tensors, int64_t tokens, int64_t segments);

  // Called by the model as tokens are consumed and segments folded.
  void advance(int64_t count) { tokens_ += count; }
  void segment_folded() { ++segments_; }

 private:
  SessionState() = default;
  std::shared_ptr<Backend> backend_;
  std::vector<LayerState> layers_;
  int64_t segment_size_ = 1;
  int64_t tokens_ = 0;
  int64_t segments_ = 0;
};

}  // namespace infini
