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

}  // namespace

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
  config.segment_size = required_int(root, origin, "segment_size");
  check_positive(config.segment_size, origin, "segment_size");

  // RoPE scaling (Llama 3.1 and others) changes every position's angles; the
  // engine implements plain RoPE only, so such a checkpoint must not load
  // and silently compute something else.
  if (const json* v = find_key(root, "rope_scaling")) {
    fail(ErrorCode::kUnsupported, origin,
         "config key \"rope_scaling\" (" + v->dump() +
             ") is not supported: the engine implements plain RoPE");
  }

  if (const json* v = find_key(root, "num_key_value_heads")) {
    config.num_kv_heads = read_int(*v, origin, "num_key_value_heads");
    check_positive(config.num_kv_heads, origin, "num_key_value_heads");
  } else {
    config.num_kv_heads = config.num_heads;
  }

  if (const json* v = find_key(root, "head_dim")) {
    config.head_dim = read_int(*v, origin, "head_dim");
    check_positive(config.head_dim, origin, "head_dim");
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
  if (const json* v = find_key(root, "rope_theta")) {
    config.rope_theta = read_number(*v, origin, "rope_theta");
  }
  if (const json* v = find_key(root, "tie_word_embeddings")) {
    if (!v->is_boolean()) {
      fail_key(origin, "tie_word_embeddings", "must be true or false, got " + describe(*v));
    }
    config.tie_word_embeddings = v->get<bool>();
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
  out["architectures"] = {"InfiniLlamaForCausalLM"};
  out["model_type"] = "llama";
  out["vocab_size"] = vocab_size;
  out["hidden_size"] = hidden_size;
  out["intermediate_size"] = intermediate_size;
  out["num_hidden_layers"] = num_layers;
  out["num_attention_heads"] = num_heads;
  out["num_key_value_heads"] = num_kv_heads;
  out["head_dim"] = head_dim;
  out["rms_norm_eps"] = rms_norm_eps;
  out["rope_theta"] = rope_theta;
  out["tie_word_embeddings"] = tie_word_embeddings;
  out["segment_size"] = segment_size;
  out["memory_update"] = memory_update_name(memory_update);
  return out.dump(2);
}

}  // namespace infini
