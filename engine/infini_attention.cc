#include "engine/infini_attention.h"

namespace infini {

void infini_attention(Backend& backend, const AttentionShape& shape, const Tensor& q,
                      const Tensor& gate_logits, LayerState& layer, int64_t first,
                      bool memory_written, Tensor& out) {
  backend.local_attention(q, layer.keys, layer.values, first, shape, layer.rotated, out);
  if (!memory_written) {
    // A_mem = 0 while z = 0, so A = (1 - g) * A_dot.
    Tensor zero = backend.allocate(q.rows(), out.cols());
    backend.gate_mix(zero, gate_logits, shape, out);
    return;
  }
  Tensor retrieved = backend.allocate(q.rows(), out.cols());
  backend.memory_retrieve(q, layer.memory, layer.norm, shape, retrieved);
  backend.gate_mix(retrieved, gate_logits, shape, out);
}

void fold_segment(Backend& backend, const AttentionShape& shape, MemoryUpdate rule,
                  LayerState& layer) {
  backend.memory_update(layer.keys, layer.values, rule, shape, layer.memory, layer.norm);
}

}  // namespace infini
