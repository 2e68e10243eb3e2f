#include "tools/infini/bench_shapes.h"

#include <stdexcept>

namespace infini::tool {

ModelConfig bench_shape(const std::string& name) {
  ModelConfig c;
  c.memory_update = MemoryUpdate::kDelta;
  c.segment_size = 2048;
  c.tie_word_embeddings = true;
  if (name == "smollm2-135m") {
    c.vocab_size = 49152;
    c.hidden_size = 576;
    c.num_layers = 30;
    c.num_heads = 9;
    c.num_kv_heads = 3;
    c.head_dim = 64;
    c.intermediate_size = 1536;
    c.rope_theta = 100000.0;
  } else if (name == "llama-1b") {
    c.vocab_size = 128256;
    c.hidden_size = 2048;
    c.num_layers = 16;
    c.num_heads = 32;
    c.num_kv_heads = 8;
    c.head_dim = 64;
    c.intermediate_size = 8192;
    c.rope_theta = 500000.0;
  } else if (name == "tiny") {
    c.vocab_size = 512;
    c.hidden_size = 64;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 16;
    c.intermediate_size = 128;
    c.segment_size = 64;
  } else {
    throw std::invalid_argument("unknown shape '" + name + "' (smollm2-135m, llama-1b, tiny)");
  }
  return c;
}

}  // namespace infini::tool
