// config.json of a checkpoint, parsed and validated once. Everything the
// forward pass needs to know about shapes lives here.
#pragma once

#include <cstdint>
#include <string>

namespace infini {

enum class MemoryUpdate { kLinear, kDelta };

const char* memory_update_name(MemoryUpdate update);

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;        // num_hidden_layers
  int64_t num_heads = 0;         // num_attention_heads
  int64_t num_kv_heads = 0;      // num_key_value_heads (defaults to num_heads)
  int64_t head_dim = 0;          // defaults to hidden_size / num_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t segment_size = 0;
  MemoryUpdate memory_update = MemoryUpdate::kLinear;

  int64_t q_size() const { return num_heads * head_dim; }
  int64_t kv_size() const { return num_kv_heads * head_dim; }
  int64_t heads_per_kv() const { return num_heads / num_kv_heads; }

  // Bytes of compressive memory (M and z, fp32) for a whole session.
  int64_t memory_bytes() const;
  // Bytes a full-attention KV cache needs for `tokens` tokens.
  int64_t kv_cache_bytes(int64_t tokens, int64_t bytes_per_element) const;

  // Parses config.json text; throws EngineError naming the offending key.
  static ModelConfig parse(const std::string& json_text, const std::string& origin);
  static ModelConfig load(const std::string& path);
  std::string to_json() const;
  // Throws EngineError if the shapes are inconsistent.
  void validate(const std::string& origin) const;
};

}  // namespace infini
