// The mutable state of one session: per layer the compressive memory (M, z)
// and the current segment's window of keys and values, plus the position.
// Its size is fixed by the model's shapes, whatever the document's length.
// The window is held only while it has tokens in it: a state whose position
// is on a segment boundary (every server session between calls: they fold
// whole segments only) holds its memory alone, and the window is allocated
// again by the next step that needs it (issue #19: on a SmolLM2-135M shape
// 1.4 MiB at rest instead of 91 MiB).
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
  Tensor keys;    // current segment's keys, before RoPE: [S, Hkv*d]; empty when released
  Tensor values;  // current segment's values: [S, Hkv*d]; empty when released
  RotatedKeys rotated;  // derived from keys (backend.h); not part of the state's floats
};

class SessionState {
 public:
  SessionState(std::shared_ptr<Backend> backend, const ModelConfig& config);

  // A deep copy: asking on a fork never changes this state.
  SessionState fork() const;

  int64_t tokens() const { return tokens_; }
  int64_t segments() const { return segments_; }           // folded into memory
  int64_t segment_offset() const { return tokens_ % segment_size_; }  // tokens in the window

  // Bytes of M and z, always held.
  int64_t memory_bytes() const;
  // Bytes of the window while it is held (fixed by the shapes): what a step
  // needs on top of the memory.
  int64_t window_bytes() const;
  bool window_held() const;
  // Exact bytes this state holds now: the memory, plus the window if held.
  int64_t state_bytes() const { return memory_bytes() + (window_held() ? window_bytes() : 0); }
  // What a step on it may hold at most: the memory and a window.
  int64_t step_bytes() const { return memory_bytes() + window_bytes(); }

  // The window for a step (allocated, zeroed, when released); and its
  // release once the position is on a segment boundary again (a no-op
  // otherwise: its tokens are still needed). Called by the model.
  void hold_window();
  void release_window_if_empty();

  std::vector<LayerState>& layers() { return layers_; }
  const std::vector<LayerState>& layers() const { return layers_; }

  // Every float of the state in a fixed order (per layer: M, z, keys,
  // values; a released window as zeros), with tokens and segments; for
  // snapshots and comparisons.
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
  int64_t window_cols_ = 0;  // each layer's keys and values, when held: [segment_size_, this]
  int64_t tokens_ = 0;
  int64_t segments_ = 0;
};

}  // namespace infini
