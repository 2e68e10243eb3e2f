// One layer's Infini-attention, device-neutral: segment-local causal
// attention, retrieval from the compressive memory, the learned gate, and the
// fold of a completed segment into memory (design/infini-attention.md).
#pragma once

#include "engine/backend.h"
#include "engine/session_state.h"

namespace infini {

// Attention output for n tokens at segment offset `first`, whose keys and
// values are already in layer.keys / layer.values rows first .. first+n-1.
// `memory_written` is false until the first segment has been folded, when
// retrieval is 0 by definition and is skipped.
void infini_attention(Backend& backend, const AttentionShape& shape, const Tensor& q,
                      const Tensor& gate_logits, LayerState& layer, int64_t first,
                      bool memory_written, Tensor& out);

// Folds the layer's full window into M and z.
void fold_segment(Backend& backend, const AttentionShape& shape, MemoryUpdate rule,
                  LayerState& layer);

}  // namespace infini
