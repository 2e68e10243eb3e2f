// config.json of a checkpoint, parsed and validated once. Everything the
// forward pass needs to know about shapes lives here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infini {

enum class MemoryUpdate { kLinear, kDelta };

const char* memory_update_name(MemoryUpdate update);

// The Llama-family architectures the engine implements (config.json's
// "architectures"); what each changes is on the design page
// (infini-attention.md, "Other Llama-family architectures").
enum class Architecture {
  kInfiniLlama,  // "InfiniLlamaForCausalLM": this project's own; also a config without the key
  kLlama,        // "LlamaForCausalLM" (Llama 2/3.x, SmolLM2)
  kQwen2,        // "Qwen2ForCausalLM": q/k/v biases
  kQwen3,        // "Qwen3ForCausalLM": per-head RMSNorm of q and k
};

// The "architectures" entry and the "model_type" of an architecture.
const char* architecture_name(Architecture architecture);
const char* architecture_model_type(Architecture architecture);

// rope_scaling of type "llama3" (Llama 3.1/3.2), exactly Hugging Face's
// _compute_llama3_parameters.
struct Llama3RopeScaling {
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  bool operator==(const Llama3RopeScaling&) const = default;
};

// Plain RoPE's inverse frequencies: theta^(-2i / head_dim), i < head_dim / 2.
std::vector<double> default_rope_inv_freq(double theta, int64_t head_dim);

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;    // num_hidden_layers
  int64_t num_heads = 0;     // num_attention_heads
  int64_t num_kv_heads = 0;  // num_key_value_heads (defaults to num_heads)
  int64_t head_dim = 0;      // defaults to hidden_size / num_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t segment_size = 0;
  MemoryUpdate memory_update = MemoryUpdate::kLinear;

  Architecture architecture = Architecture::kInfiniLlama;
  std::optional<Llama3RopeScaling> rope_llama3;  // absent: plain RoPE
  // Which linears carry a bias. Hugging Face architectures fix this from
  // config.json (Qwen2: q, k, v; Llama "attention_bias": q, k, v, o; Llama
  // "mlp_bias": gate, up, down), and a bias tensor the config does not call
  // for is refused, as Transformers would ignore it. The project's own
  // format (kInfiniLlama) adds whichever biases the checkpoint has.
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool qk_norm = false;  // Qwen3: q_norm / k_norm weights [head_dim] per layer
  // False when config.json has no "segment_size" (a plain Hugging Face
  // checkpoint): segment_size is then kDefaultSegmentSize, or the load option.
  bool segment_size_in_config = true;

  // The paper's segment length, for checkpoints that do not name one.
  static constexpr int64_t kDefaultSegmentSize = 2048;

  bool biases_from_checkpoint() const { return architecture == Architecture::kInfiniLlama; }
  // The rotary inverse frequencies, head_dim / 2 of them: rope_theta^(-2i/d),
  // adjusted by rope_scaling when it is llama3; in double.
  std::vector<double> rope_inv_freq() const;

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
