#include "engine/model_config.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"

namespace infini {
namespace {

using nlohmann::json;

// Shapes are multiplied together (e.g. vocab x hidden, L x Hkv x d x d) in
// int64; capping each at 2^31 - 1 keeps every product of two in range and
// turns an absurd config into a clear error instead of an overflow later.
constexpr int64_t kMaxDimension = std::numeric_limits<int32_t>::max();

[[noreturn]] void fail(ErrorCode code, const std::string& origin, const std::string& what) {
  throw EngineError(code, origin + ": " + what);
}

[[noreturn]] void fail_key(const std::string& origin, const std::string& key,
                           const std::string& what) {
  fail(ErrorCode::kInvalidArgument, origin, "config key \"" + key + "\" " + what);
}

std::string describe(const json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

// Optional keys that are absent or null both mean "use the default": HF
// configs write e.g. "head_dim": null.
const json* find_key(const json& object, const std::string& key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t read_int(const json& value, const std::string& origin, const std::string& key) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxDimension)) {
      fail_key(origin, key,
               "is " + value.dump() + ", must be at most " + std::to_string(kMaxDimension));
    }
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  fail_key(origin, key, "must be an integer, got " + describe(value));
}

int64_t required_int(const json& object, const std::string& origin, const std::string& key) {
  const json* value = find_key(object, key);
  if (value == nullptr) fail_key(origin, key, "is missing (required)");
  return read_int(*value, origin, key);
}

double read_number(const json& value, const std::string& origin, const std::string& key) {
  if (!value.is_number()) fail_key(origin, key, "must be a number, got " + describe(value));
  return value.get<double>();
}

void check_positive(int64_t value, const std::string& origin, const std::string& key) {
  if (value <= 0) fail_key(origin, key, "must be positive, got " + std::to_string(value));
  if (value > kMaxDimension) {
    fail_key(origin, key,
             "is " + std::to_string(value) + ", must be at most " + std::to_string(kMaxDimension));
  }
}

void check_positive_finite(double value, const std::string& origin, const std::string& key) {
  if (!(value > 0.0) || !std::isfinite(value)) {
    std::ostringstream text;
    text << "must be a positive finite number, got " << value;
    fail_key(origin, key, text.str());
  }
}

bool read_bool(const json& value, const std::string& origin, const std::string& key) {
  if (!value.is_boolean()) fail_key(origin, key, "must be true or false, got " + describe(value));
  return value.get<bool>();
}

std::string read_string(const json& value, const std::string& origin, const std::string& key) {
  if (!value.is_string()) fail_key(origin, key, "must be a string, got " + describe(value));
  return value.get<std::string>();
}

constexpr Architecture kArchitectures[] = {Architecture::kInfiniLlama, Architecture::kLlama,
                                           Architecture::kQwen2, Architecture::kQwen3};

// "architectures" (one name) decides; "model_type" must agree with it. A
// config with neither is the project's older own format.
Architecture read_architecture(const json& root, const std::string& origin) {
  std::optional<std::string> model_type;
  if (const json* v = find_key(root, "model_type"))
    model_type = read_string(*v, origin, "model_type");
  const json* names = find_key(root, "architectures");
  if (names == nullptr) {
    if (!model_type) return Architecture::kInfiniLlama;
    for (Architecture a : {Architecture::kLlama, Architecture::kQwen2, Architecture::kQwen3}) {
      if (*model_type == architecture_model_type(a)) return a;
    }
    fail(ErrorCode::kUnsupported, origin,
         "config key \"model_type\" is \"" + *model_type +
             "\", which the engine does not implement (supported: llama, qwen2, qwen3)");
  }
  if (!names->is_array() || names->size() != 1 || !(*names)[0].is_string()) {
    fail_key(origin, "architectures",
             "must be a list of one architecture name, got " + describe(*names));
  }
  const std::string name = (*names)[0].get<std::string>();
  for (Architecture a : kArchitectures) {
    if (name != architecture_name(a)) continue;
    if (model_type && *model_type != architecture_model_type(a)) {
      fail_key(origin, "model_type",
               "is \"" + *model_type + "\" but \"architectures\" is " + name +
                   ", whose model_type is \"" + architecture_model_type(a) + "\"");
    }
    return a;
  }
  fail(ErrorCode::kUnsupported, origin,
       "config key \"architectures\" is [\"" + name +
           "\"], which the engine does not implement (supported: LlamaForCausalLM, "
           "Qwen2ForCausalLM, Qwen3ForCausalLM, InfiniLlamaForCausalLM)");
}

double scaling_number(const json& scaling, const std::string& origin, const std::string& key,
                      std::optional<double> fallback) {
  const json* v = find_key(scaling, key);
  if (v == nullptr) {
    if (fallback) return *fallback;
    fail_key(origin, "rope_scaling", "of type llama3 needs \"" + key + "\"");
  }
  if (!v->is_number()) {
    fail_key(origin, "rope_scaling", "\"" + key + "\" must be a number, got " + describe(*v));
  }
  return v->get<double>();
}

// rope_theta and rope_scaling; Transformers 5 writes both inside
// "rope_parameters" ({"rope_type": ..., "rope_theta": ...}), read the same way.
void read_rope(const json& root, const std::string& origin, ModelConfig& config) {
  const json* scaling = find_key(root, "rope_scaling");
  std::string scaling_key = "rope_scaling";
  if (const json* params = find_key(root, "rope_parameters")) {
    if (!params->is_object()) {
      fail_key(origin, "rope_parameters", "must be an object, got " + describe(*params));
    }
    if (scaling != nullptr) {
      fail_key(origin, "rope_parameters", "and \"rope_scaling\" are both set; give one");
    }
    scaling = params;
    scaling_key = "rope_parameters";
    if (const json* v = find_key(*params, "rope_theta")) {
      config.rope_theta = read_number(*v, origin, "rope_parameters.rope_theta");
    }
  }
  if (const json* v = find_key(root, "rope_theta")) {
    config.rope_theta = read_number(*v, origin, "rope_theta");
  }
  if (scaling == nullptr) return;
  if (!scaling->is_object()) {
    fail_key(origin, scaling_key, "must be an object or null, got " + describe(*scaling));
  }
  // Hugging Face accepts "rope_type" and, in older configs, "type".
  const json* type = find_key(*scaling, "rope_type");
  if (type == nullptr) type = find_key(*scaling, "type");
  const std::string name =
      type == nullptr ? "default" : read_string(*type, origin, scaling_key + ".rope_type");
  if (name == "default") return;
  if (name != "llama3") {
    fail(ErrorCode::kUnsupported, origin,
         "config key \"" + scaling_key + "\" has rope_type \"" + name +
             "\", which the engine does not implement (supported: llama3, or none): " +
             describe(*scaling));
  }
  Llama3RopeScaling s;
  s.factor = scaling_number(*scaling, origin, "factor", std::nullopt);
  s.low_freq_factor = scaling_number(*scaling, origin, "low_freq_factor", std::nullopt);
  s.high_freq_factor = scaling_number(*scaling, origin, "high_freq_factor", std::nullopt);
  const json* original = find_key(*scaling, "original_max_position_embeddings");
  if (original == nullptr) {
    fail_key(origin, scaling_key, "of type llama3 needs \"original_max_position_embeddings\"");
  }
  s.original_max_position_embeddings =
      read_int(*original, origin, scaling_key + ".original_max_position_embeddings");
  // Llama 3's attention_factor is 1 unless given; any other value scales
  // cos and sin, which is not implemented.
  if (const json* v = find_key(*scaling, "attention_factor")) {
    if (!v->is_number() || v->get<double>() != 1.0) {
      fail(ErrorCode::kUnsupported, origin,
           "config key \"" + scaling_key + "\" sets attention_factor " + v->dump() +
               ", which is not implemented (only 1)");
    }
  }
  config.rope_llama3 = s;
}

// Keys that change the computation: each takes its implemented value, or is
// refused by name rather than silently computed another way.
void check_maths_keys(const json& root, const std::string& origin, ModelConfig& config) {
  const Architecture arch = config.architecture;
  for (const char* key : {"hidden_act", "hidden_activation"}) {
    if (const json* v = find_key(root, key)) {
      const std::string act = read_string(*v, origin, key);
      if (act != "silu") {
        fail(ErrorCode::kUnsupported, origin,
             std::string("config key \"") + key + "\" is \"" + act +
                 "\"; the engine implements SwiGLU with silu only");
      }
    }
  }
  if (const json* v = find_key(root, "partial_rotary_factor")) {
    if (!v->is_number() || v->get<double>() != 1.0) {
      fail(ErrorCode::kUnsupported, origin,
           "config key \"partial_rotary_factor\" is " + v->dump() +
               "; the engine rotates the whole head (1.0 only)");
    }
  }
  if (const json* v = find_key(root, "use_sliding_window")) {
    if (read_bool(*v, origin, "use_sliding_window")) {
      fail(ErrorCode::kUnsupported, origin,
           "config key \"use_sliding_window\" is true; sliding-window attention is not "
           "implemented (with false, \"sliding_window\" is ignored, as in Transformers)");
    }
  }
  if (const json* v = find_key(root, "layer_types")) {
    if (!v->is_array()) fail_key(origin, "layer_types", "must be a list, got " + describe(*v));
    for (const json& type : *v) {
      if (!type.is_string() || type.get<std::string>() != "full_attention") {
        fail(ErrorCode::kUnsupported, origin,
             "config key \"layer_types\" has " + type.dump() +
                 "; only \"full_attention\" layers are implemented");
      }
    }
  }
  for (const char* key :
       {"quantization_config", "attn_logit_softcapping", "final_logit_softcapping",
        "logits_scaling", "embedding_multiplier", "residual_multiplier", "attention_multiplier",
        "no_rope_layers", "use_qk_norm"}) {
    const json* v = find_key(root, key);
    if (v != nullptr && *v != false) {
      fail(ErrorCode::kUnsupported, origin,
           std::string("config key \"") + key + "\" (" + describe(*v) +
               ") changes the computation in a way the engine does not implement");
    }
  }

  // Biases and q/k norms per architecture (modeling_{llama,qwen2,qwen3}.py).
  bool attention_bias = false;
  if (const json* v = find_key(root, "attention_bias")) {
    attention_bias = read_bool(*v, origin, "attention_bias");
  }
  bool mlp_bias = false;
  if (const json* v = find_key(root, "mlp_bias")) mlp_bias = read_bool(*v, origin, "mlp_bias");
  switch (arch) {
    case Architecture::kInfiniLlama:
      break;  // biases as the checkpoint has them
    case Architecture::kLlama:
      config.qkv_bias = config.o_bias = attention_bias;
      config.mlp_bias = mlp_bias;
      break;
    case Architecture::kQwen2:
      config.qkv_bias = true;  // Qwen2Attention: q, k, v always, o never
      if (mlp_bias)
        fail(ErrorCode::kUnsupported, origin,
             "config key \"mlp_bias\" is true; Qwen2 has no MLP biases");
      break;
    case Architecture::kQwen3:
      config.qkv_bias = config.o_bias = attention_bias;
      config.qk_norm = true;
      if (mlp_bias)
        fail(ErrorCode::kUnsupported, origin,
             "config key \"mlp_bias\" is true; Qwen3 has no MLP biases");
      break;
  }
}

}  // namespace

const char* architecture_name(Architecture architecture) {
  switch (architecture) {
    case Architecture::kInfiniLlama:
      return "InfiniLlamaForCausalLM";
    case Architecture::kLlama:
      return "LlamaForCausalLM";
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
    case Architecture::kQwen3:
      return "Qwen3ForCausalLM";
  }
  return "unknown";
}

const char* architecture_model_type(Architecture architecture) {
  switch (architecture) {
    case Architecture::kInfiniLlama:
    case Architecture::kLlama:
      return "llama";
    case Architecture::kQwen2:
      return "qwen2";
    case Architecture::kQwen3:
      return "qwen3";
  }
  return "unknown";
}

std::vector<double> default_rope_inv_freq(double theta, int64_t head_dim) {
  std::vector<double> inv_freq(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  }
  return inv_freq;
}

std::vector<double> ModelConfig::rope_inv_freq() const {
  std::vector<double> inv_freq = default_rope_inv_freq(rope_theta, head_dim);
  if (!rope_llama3) return inv_freq;
  // Transformers' _compute_llama3_parameters: short wavelengths keep their
  // frequency, long ones are divided by `factor`, the band between is
  // interpolated by how many original-context lengths the wave spans.
  const Llama3RopeScaling& s = *rope_llama3;
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen > low_freq_wavelen) {
      f = f / s.factor;
    } else if (!(wavelen < high_freq_wavelen)) {
      const double smooth =
          (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv_freq;
}

const char* memory_update_name(MemoryUpdate update) {
  switch (update) {
    case MemoryUpdate::kLinear:
      return "linear";
    case MemoryUpdate::kDelta:
      return "delta";
  }
  return "unknown";
}

int64_t ModelConfig::memory_bytes() const {
  return num_layers * num_kv_heads * head_dim * (head_dim + 1) *
         static_cast<int64_t>(sizeof(float));
}

int64_t ModelConfig::kv_cache_bytes(int64_t tokens, int64_t bytes_per_element) const {
  return 2 * num_layers * num_kv_heads * head_dim * tokens * bytes_per_element;
}

void ModelConfig::validate(const std::string& origin) const {
  check_positive(vocab_size, origin, "vocab_size");
  check_positive(hidden_size, origin, "hidden_size");
  check_positive(intermediate_size, origin, "intermediate_size");
  check_positive(num_layers, origin, "num_hidden_layers");
  check_positive(num_heads, origin, "num_attention_heads");
  check_positive(num_kv_heads, origin, "num_key_value_heads");
  check_positive(head_dim, origin, "head_dim");
  check_positive(segment_size, origin, "segment_size");
  if (num_heads % num_kv_heads != 0) {
    fail_key(origin, "num_attention_heads",
             "(" + std::to_string(num_heads) + ") is not divisible by num_key_value_heads (" +
                 std::to_string(num_kv_heads) +
                 "): grouped-query attention needs a whole number of query heads per kv head");
  }
  if (head_dim % 2 != 0) {
    fail_key(origin, "head_dim",
             "is " + std::to_string(head_dim) + ", must be even (RoPE rotates pairs (i, i + d/2))");
  }
  check_positive_finite(rms_norm_eps, origin, "rms_norm_eps");
  check_positive_finite(rope_theta, origin, "rope_theta");
  if (memory_update != MemoryUpdate::kLinear && memory_update != MemoryUpdate::kDelta) {
    fail_key(origin, "memory_update", "has an unknown value");
  }
  if (rope_llama3) {
    const Llama3RopeScaling& s = *rope_llama3;
    check_positive_finite(s.factor, origin, "rope_scaling.factor");
    check_positive_finite(s.low_freq_factor, origin, "rope_scaling.low_freq_factor");
    check_positive_finite(s.high_freq_factor, origin, "rope_scaling.high_freq_factor");
    check_positive(s.original_max_position_embeddings, origin,
                   "rope_scaling.original_max_position_embeddings");
    // The interpolation divides by their difference.
    if (!(s.high_freq_factor > s.low_freq_factor)) {
      fail_key(origin, "rope_scaling",
               "has high_freq_factor <= low_freq_factor; llama3 scaling needs high > low");
    }
  }
}

ModelConfig ModelConfig::parse(const std::string& json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kCorruptData, origin, std::string("invalid JSON: ") + e.what());
  }
  if (!root.is_object()) {
    fail(ErrorCode::kInvalidArgument, origin,
         "config must be a JSON object, got " + describe(root));
  }

  ModelConfig config;
  config.architecture = read_architecture(root, origin);
  const bool own_format = config.architecture == Architecture::kInfiniLlama;
  config.vocab_size = required_int(root, origin, "vocab_size");
  check_positive(config.vocab_size, origin, "vocab_size");
  config.hidden_size = required_int(root, origin, "hidden_size");
  check_positive(config.hidden_size, origin, "hidden_size");
  config.intermediate_size = required_int(root, origin, "intermediate_size");
  check_positive(config.intermediate_size, origin, "intermediate_size");
  config.num_layers = required_int(root, origin, "num_hidden_layers");
  check_positive(config.num_layers, origin, "num_hidden_layers");
  config.num_heads = required_int(root, origin, "num_attention_heads");
  check_positive(config.num_heads, origin, "num_attention_heads");
  // A Hugging Face checkpoint knows nothing of segments: it gets the
  // default, which the load options may override (LoadOptions::segment_size).
  if (const json* v = find_key(root, "segment_size")) {
    config.segment_size = read_int(*v, origin, "segment_size");
    check_positive(config.segment_size, origin, "segment_size");
  } else if (own_format) {
    fail_key(origin, "segment_size", "is missing (required)");
  } else {
    config.segment_size = kDefaultSegmentSize;
    config.segment_size_in_config = false;
  }

  read_rope(root, origin, config);
  check_maths_keys(root, origin, config);

  const bool qwen =
      config.architecture == Architecture::kQwen2 || config.architecture == Architecture::kQwen3;
  if (const json* v = find_key(root, "num_key_value_heads")) {
    config.num_kv_heads = read_int(*v, origin, "num_key_value_heads");
    check_positive(config.num_kv_heads, origin, "num_key_value_heads");
  } else if (qwen) {
    // Transformers' Qwen2Config / Qwen3Config default it to 32, not to the
    // number of heads: rather than guess, ask for it.
    fail_key(origin, "num_key_value_heads",
             std::string("is missing; a ") + architecture_name(config.architecture) +
                 " config must give it (Transformers would assume 32)");
  } else {
    config.num_kv_heads = config.num_heads;
  }

  if (const json* v = find_key(root, "head_dim")) {
    config.head_dim = read_int(*v, origin, "head_dim");
    check_positive(config.head_dim, origin, "head_dim");
  } else if (config.architecture == Architecture::kQwen3) {
    config.head_dim = 128;  // Transformers' Qwen3Config default, whatever hidden_size is
  } else {
    if (config.hidden_size % config.num_heads != 0) {
      fail_key(origin, "head_dim",
               "is missing and hidden_size (" + std::to_string(config.hidden_size) +
                   ") is not divisible by num_attention_heads (" +
                   std::to_string(config.num_heads) + "); set head_dim explicitly");
    }
    config.head_dim = config.hidden_size / config.num_heads;
    if (config.head_dim % 2 != 0) {
      fail_key(origin, "head_dim",
               "is missing and hidden_size / num_attention_heads = " +
                   std::to_string(config.head_dim) + " is odd; RoPE needs an even head dimension");
    }
  }

  if (const json* v = find_key(root, "rms_norm_eps")) {
    config.rms_norm_eps = read_number(*v, origin, "rms_norm_eps");
  }
  if (const json* v = find_key(root, "tie_word_embeddings")) {
    config.tie_word_embeddings = read_bool(*v, origin, "tie_word_embeddings");
  }
  if (const json* v = find_key(root, "memory_update")) {
    if (!v->is_string()) {
      fail_key(origin, "memory_update", "must be a string, got " + describe(*v));
    }
    const std::string name = v->get<std::string>();
    if (name == "linear") {
      config.memory_update = MemoryUpdate::kLinear;
    } else if (name == "delta") {
      config.memory_update = MemoryUpdate::kDelta;
    } else {
      fail_key(origin, "memory_update", "is \"" + name + "\", must be \"linear\" or \"delta\"");
    }
  }

  config.validate(origin);
  return config;
}

ModelConfig ModelConfig::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw EngineError(ErrorCode::kNotFound, path + ": config file not found");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      path + ": is a directory, expected the path of config.json");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw EngineError(ErrorCode::kNotFound,
                      path + ": cannot open config file: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw EngineError(ErrorCode::kInternal, path + ": error reading config file");
  }
  return parse(text.str(), path);
}

std::string ModelConfig::to_json() const {
  // ordered_json keeps the familiar HF order instead of sorting the keys.
  nlohmann::ordered_json out;
  out["architectures"] = {architecture_name(architecture)};
  out["model_type"] = architecture_model_type(architecture);
  out["vocab_size"] = vocab_size;
  out["hidden_size"] = hidden_size;
  out["intermediate_size"] = intermediate_size;
  out["num_hidden_layers"] = num_layers;
  out["num_attention_heads"] = num_heads;
  out["num_key_value_heads"] = num_kv_heads;
  out["head_dim"] = head_dim;
  out["rms_norm_eps"] = rms_norm_eps;
  out["rope_theta"] = rope_theta;
  if (rope_llama3) {
    out["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", rope_llama3->factor},
        {"low_freq_factor", rope_llama3->low_freq_factor},
        {"high_freq_factor", rope_llama3->high_freq_factor},
        {"original_max_position_embeddings", rope_llama3->original_max_position_embeddings}};
  }
  if (architecture == Architecture::kLlama || architecture == Architecture::kQwen3) {
    out["attention_bias"] = qkv_bias;
  }
  if (architecture == Architecture::kLlama) out["mlp_bias"] = mlp_bias;
  out["tie_word_embeddings"] = tie_word_embeddings;
  out["segment_size"] = segment_size;
  out["memory_update"] = memory_update_name(memory_update);
  return out.dump(2);
}

}  // namespace infini
