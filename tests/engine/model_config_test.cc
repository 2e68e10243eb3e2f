#include "engine/model_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using nlohmann::json;

const char* kOrigin = "/models/tiny/config.json";

json valid_config() {
  return json{{"architectures", {"InfiniLlamaForCausalLM"}},
              {"model_type", "llama"},
              {"vocab_size", 320},
              {"hidden_size", 64},
              {"intermediate_size", 176},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 2},
              {"head_dim", 16},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 500000.0},
              {"tie_word_embeddings", true},
              {"segment_size", 32},
              {"memory_update", "delta"},
              {"torch_dtype", "bfloat16"}};  // unknown keys are ignored
}

json minimal_config() {
  return json{{"vocab_size", 100},      {"hidden_size", 48},        {"intermediate_size", 96},
              {"num_hidden_layers", 3}, {"num_attention_heads", 6}, {"segment_size", 8}};
}

// Runs `fn`, expects an EngineError with `code` whose message contains every
// one of `parts`.
void expect_error(const std::function<void()>& fn, ErrorCode code,
                  const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), code) << "code " << error_code_name(e.code()) << ", message: " << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << part << "\"";
    }
    return;
  }
  ADD_FAILURE() << "expected EngineError(" << error_code_name(code) << ")";
}

void expect_parse_error(const json& config, ErrorCode code, const std::vector<std::string>& parts) {
  std::vector<std::string> all = parts;
  all.push_back(kOrigin);
  expect_error([&] { ModelConfig::parse(config.dump(), kOrigin); }, code, all);
}

using testing::TempDir;

TEST(ModelConfigTest, ParsesAValidConfig) {
  const ModelConfig c = ModelConfig::parse(valid_config().dump(), kOrigin);
  EXPECT_EQ(c.vocab_size, 320);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 176);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.segment_size, 32);
  EXPECT_EQ(c.memory_update, MemoryUpdate::kDelta);
  EXPECT_EQ(c.q_size(), 64);
  EXPECT_EQ(c.kv_size(), 32);
  EXPECT_EQ(c.heads_per_kv(), 2);
}

TEST(ModelConfigTest, AppliesDefaults) {
  const ModelConfig c = ModelConfig::parse(minimal_config().dump(), kOrigin);
  EXPECT_EQ(c.num_kv_heads, 6);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.memory_update, MemoryUpdate::kLinear);
}

TEST(ModelConfigTest, NullOptionalKeysMeanDefault) {
  json j = minimal_config();
  j["head_dim"] = nullptr;
  j["num_key_value_heads"] = nullptr;
  const ModelConfig c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.num_kv_heads, 6);
}

TEST(ModelConfigTest, ExplicitHeadDimNeedNotDivideHidden) {
  json j = minimal_config();
  j["hidden_size"] = 50;  // 50 / 6 is not whole, but head_dim is given
  j["head_dim"] = 10;
  const ModelConfig c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_EQ(c.head_dim, 10);
  EXPECT_EQ(c.q_size(), 60);
}

TEST(ModelConfigTest, ByteSizes) {
  const ModelConfig c = ModelConfig::parse(valid_config().dump(), kOrigin);
  // L * Hkv * d * (d + 1) * 4 = 2 * 2 * 16 * 17 * 4
  EXPECT_EQ(c.memory_bytes(), 2 * 2 * 16 * 17 * 4);
  // 2 * L * Hkv * d * n * b
  EXPECT_EQ(c.kv_cache_bytes(1000, 2), 2 * 2 * 2 * 16 * 1000 * 2);
  EXPECT_EQ(c.kv_cache_bytes(0, 4), 0);
}

TEST(ModelConfigTest, ToJsonRoundTrips) {
  const ModelConfig original = ModelConfig::parse(valid_config().dump(), kOrigin);
  const std::string text = original.to_json();
  const ModelConfig c = ModelConfig::parse(text, "round trip");
  EXPECT_EQ(c.vocab_size, original.vocab_size);
  EXPECT_EQ(c.hidden_size, original.hidden_size);
  EXPECT_EQ(c.intermediate_size, original.intermediate_size);
  EXPECT_EQ(c.num_layers, original.num_layers);
  EXPECT_EQ(c.num_heads, original.num_heads);
  EXPECT_EQ(c.num_kv_heads, original.num_kv_heads);
  EXPECT_EQ(c.head_dim, original.head_dim);
  EXPECT_EQ(c.rms_norm_eps, original.rms_norm_eps);  // exact: shortest round-trip printing
  EXPECT_EQ(c.rope_theta, original.rope_theta);
  EXPECT_EQ(c.tie_word_embeddings, original.tie_word_embeddings);
  EXPECT_EQ(c.segment_size, original.segment_size);
  EXPECT_EQ(c.memory_update, original.memory_update);

  const json j = json::parse(text);
  EXPECT_EQ(j.at("architectures"), json::array({"InfiniLlamaForCausalLM"}));
  EXPECT_EQ(j.at("model_type"), "llama");
  EXPECT_EQ(j.at("num_hidden_layers"), 2);
  EXPECT_EQ(j.at("num_attention_heads"), 4);
  EXPECT_EQ(j.at("num_key_value_heads"), 2);
  EXPECT_EQ(j.at("memory_update"), "delta");
}

TEST(ModelConfigTest, ToJsonRoundTripsDefaults) {
  const ModelConfig original = ModelConfig::parse(minimal_config().dump(), kOrigin);
  const ModelConfig c = ModelConfig::parse(original.to_json(), "round trip");
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.memory_update, MemoryUpdate::kLinear);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 8);
}

TEST(ModelConfigTest, Names) {
  EXPECT_STREQ(memory_update_name(MemoryUpdate::kLinear), "linear");
  EXPECT_STREQ(memory_update_name(MemoryUpdate::kDelta), "delta");
  EXPECT_STREQ(error_code_name(ErrorCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(error_code_name(ErrorCode::kNotFound), "NOT_FOUND");
  EXPECT_STREQ(error_code_name(ErrorCode::kCorruptData), "CORRUPT_DATA");
  EXPECT_STREQ(error_code_name(ErrorCode::kOutOfRange), "OUT_OF_RANGE");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnsupported), "UNSUPPORTED");
  EXPECT_STREQ(error_code_name(ErrorCode::kInternal), "INTERNAL");
}

TEST(ModelConfigTest, MissingRequiredKeys) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "segment_size"}) {
    SCOPED_TRACE(key);
    json j = valid_config();
    j.erase(key);
    expect_parse_error(j, ErrorCode::kInvalidArgument, {std::string("\"") + key + "\"", "missing"});
  }
}

TEST(ModelConfigTest, WrongJsonTypes) {
  struct Case {
    const char* key;
    json value;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"vocab_size", "320", "integer"},
      {"hidden_size", 64.0, "integer"},
      {"num_hidden_layers", json::array({2}), "integer"},
      {"num_key_value_heads", true, "integer"},
      {"head_dim", 16.5, "integer"},
      {"segment_size", json::object(), "integer"},
      {"rms_norm_eps", "1e-5", "number"},
      {"rope_theta", json::array(), "number"},
      {"tie_word_embeddings", "true", "true or false"},
      {"tie_word_embeddings", 1, "true or false"},
      {"memory_update", 1, "string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    json j = valid_config();
    j[c.key] = c.value;
    expect_parse_error(j, ErrorCode::kInvalidArgument,
                       {std::string("\"") + c.key + "\"", c.expected});
  }
}

TEST(ModelConfigTest, NonPositiveValues) {
  struct Case {
    const char* key;
    json value;
  };
  const std::vector<Case> cases = {
      {"vocab_size", 0},        {"hidden_size", -64},        {"intermediate_size", 0},
      {"num_hidden_layers", 0}, {"num_attention_heads", -4}, {"num_key_value_heads", 0},
      {"head_dim", 0},          {"segment_size", -1},        {"rms_norm_eps", 0.0},
      {"rms_norm_eps", -1e-6},  {"rope_theta", 0},           {"rope_theta", -10000.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    json j = valid_config();
    j[c.key] = c.value;
    expect_parse_error(j, ErrorCode::kInvalidArgument,
                       {std::string("\"") + c.key + "\"", "positive"});
  }
}

TEST(ModelConfigTest, AbsurdlyLargeValue) {
  json j = valid_config();
  j["vocab_size"] = 1'000'000'000'000LL;
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"vocab_size\"", "at most"});
}

TEST(ModelConfigTest, HeadsNotDivisibleByKvHeads) {
  json j = valid_config();
  j["num_key_value_heads"] = 3;
  expect_parse_error(j, ErrorCode::kInvalidArgument,
                     {"num_attention_heads", "num_key_value_heads", "not divisible"});
}

TEST(ModelConfigTest, OddHeadDim) {
  json j = valid_config();
  j["head_dim"] = 15;
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"head_dim\"", "even", "RoPE"});
}

TEST(ModelConfigTest, OddDerivedHeadDim) {
  json j = minimal_config();
  j["hidden_size"] = 42;  // 42 / 6 = 7
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"head_dim\"", "odd", "RoPE"});
}

TEST(ModelConfigTest, HiddenNotDivisibleByHeadsWithoutHeadDim) {
  json j = minimal_config();
  j["hidden_size"] = 50;
  expect_parse_error(j, ErrorCode::kInvalidArgument,
                     {"\"head_dim\"", "hidden_size", "not divisible"});
}

TEST(ModelConfigTest, UnknownMemoryUpdate) {
  json j = valid_config();
  j["memory_update"] = "quadratic";
  expect_parse_error(j, ErrorCode::kInvalidArgument,
                     {"\"memory_update\"", "quadratic", "linear", "delta"});
}

TEST(ModelConfigTest, InvalidJson) {
  expect_error([] { ModelConfig::parse("{\"vocab_size\": 320,", kOrigin); },
               ErrorCode::kCorruptData, {kOrigin, "invalid JSON", "parse error"});
  expect_error([] { ModelConfig::parse("", kOrigin); }, ErrorCode::kCorruptData,
               {kOrigin, "invalid JSON"});
}

TEST(ModelConfigTest, TopLevelMustBeAnObject) {
  expect_error([] { ModelConfig::parse("[1, 2]", kOrigin); }, ErrorCode::kInvalidArgument,
               {kOrigin, "object"});
}

TEST(ModelConfigTest, ValidateRejectsAnUnsetConfig) {
  expect_error([] { ModelConfig().validate("in code"); }, ErrorCode::kInvalidArgument,
               {"in code", "vocab_size"});
}

TEST(ModelConfigTest, LoadReadsAFile) {
  TempDir dir;
  const std::string path = dir.file("config.json");
  std::ofstream(path) << valid_config().dump(2);
  const ModelConfig c = ModelConfig::load(path);
  EXPECT_EQ(c.vocab_size, 320);
  EXPECT_EQ(c.memory_update, MemoryUpdate::kDelta);
}

TEST(ModelConfigTest, LoadNamesTheFileInErrors) {
  TempDir dir;
  const std::string path = dir.file("config.json");
  json j = valid_config();
  j.erase("segment_size");
  std::ofstream(path) << j.dump(2);
  expect_error([&] { ModelConfig::load(path); }, ErrorCode::kInvalidArgument,
               {path, "\"segment_size\"", "missing"});
}

TEST(ModelConfigTest, LoadMissingFile) {
  TempDir dir;
  const std::string path = dir.file("nope.json");
  expect_error([&] { ModelConfig::load(path); }, ErrorCode::kNotFound, {path, "not found"});
}

TEST(ModelConfigTest, LoadDirectory) {
  TempDir dir;
  const std::string path = dir.file("");
  expect_error([&] { ModelConfig::load(path); }, ErrorCode::kInvalidArgument, {"directory"});
}

}  // namespace
}  // namespace infini

namespace infini {
namespace {

// Llama-3.2-1B's config.json, as on the Hugging Face Hub.
json llama32_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64,
    "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
    "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// Qwen2.5-0.5B-Instruct's config.json.
json qwen25_config() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.1", "use_cache": true, "use_sliding_window": false,
    "vocab_size": 151936})");
}

// Qwen3-0.6B's config.json.
json qwen3_config() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

TEST(ModelConfigFamiliesTest, HubConfigsParse) {
  const ModelConfig llama = ModelConfig::parse(llama32_config().dump(), kOrigin);
  EXPECT_EQ(llama.architecture, Architecture::kLlama);
  ASSERT_TRUE(llama.rope_llama3.has_value());
  EXPECT_EQ(llama.rope_llama3->factor, 32.0);
  EXPECT_EQ(llama.rope_llama3->original_max_position_embeddings, 8192);
  EXPECT_EQ(llama.head_dim, 64);
  EXPECT_TRUE(llama.tie_word_embeddings);
  EXPECT_FALSE(llama.qkv_bias || llama.o_bias || llama.mlp_bias || llama.qk_norm);
  // No segment_size: the default, and the config says it was not given.
  EXPECT_EQ(llama.segment_size, ModelConfig::kDefaultSegmentSize);
  EXPECT_FALSE(llama.segment_size_in_config);

  const ModelConfig qwen2 = ModelConfig::parse(qwen25_config().dump(), kOrigin);
  EXPECT_EQ(qwen2.architecture, Architecture::kQwen2);
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias || qwen2.mlp_bias || qwen2.qk_norm);
  EXPECT_EQ(qwen2.head_dim, 64);
  EXPECT_EQ(qwen2.num_kv_heads, 2);
  EXPECT_EQ(qwen2.rope_theta, 1e6);
  EXPECT_FALSE(qwen2.rope_llama3.has_value());

  const ModelConfig qwen3 = ModelConfig::parse(qwen3_config().dump(), kOrigin);
  EXPECT_EQ(qwen3.architecture, Architecture::kQwen3);
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.qkv_bias || qwen3.o_bias);
  EXPECT_EQ(qwen3.head_dim, 128);  // from the config, not 1024 / 16
  EXPECT_EQ(qwen3.q_size(), 2048);
}

TEST(ModelConfigFamiliesTest, Llama3InverseFrequenciesMatchTransformers) {
  const ModelConfig c = ModelConfig::parse(llama32_config().dump(), kOrigin);
  const std::vector<double> f = c.rope_inv_freq();
  ASSERT_EQ(f.size(), 32u);
  // Values from tools/reference (float64), which follows Transformers'
  // _compute_llama3_parameters; the three bands: kept (i <= 14, wavelength
  // < 2048), interpolated (15..17), divided by 32 (>= 18, wavelength > 8192).
  const std::vector<std::pair<int, double>> expected = {{0, 1.0},
                                                        {10, 0.016560440080994446},
                                                        {14, 0.003211445994752591},
                                                        {15, 0.0012905479282092638},
                                                        {16, 0.00042955679655936815},
                                                        {17, 9.70828780262767e-05},
                                                        {18, 1.9461638184831125e-05},
                                                        {31, 9.41830672543491e-08}};
  for (const auto& [i, value] : expected) {
    EXPECT_NEAR(f[i], value, 1e-15 * value + 1e-300) << "i = " << i;
  }
  // Plain RoPE for the same head size, for contrast.
  const std::vector<double> plain = default_rope_inv_freq(500000.0, 64);
  EXPECT_EQ(f[3], plain[3]);
  EXPECT_NEAR(f[31], plain[31] / 32.0, 1e-22);
}

TEST(ModelConfigFamiliesTest, RopeScalingNullOrDefaultIsPlain) {
  json j = valid_config();
  j["rope_scaling"] = nullptr;
  EXPECT_FALSE(ModelConfig::parse(j.dump(), kOrigin).rope_llama3.has_value());
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_FALSE(ModelConfig::parse(j.dump(), kOrigin).rope_llama3.has_value());
  // The older spelling "type".
  j = llama32_config();
  j["rope_scaling"].erase("rope_type");
  j["rope_scaling"]["type"] = "llama3";
  EXPECT_TRUE(ModelConfig::parse(j.dump(), kOrigin).rope_llama3.has_value());
}

TEST(ModelConfigFamiliesTest, Transformers5RopeParameters) {
  json j = qwen3_config();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  const ModelConfig c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_llama3.has_value());
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_parse_error(j, ErrorCode::kUnsupported, {"\"rope_parameters\"", "yarn"});
}

TEST(ModelConfigFamiliesTest, UnimplementedRopeScalingIsRefusedByName) {
  for (const char* type : {"linear", "dynamic", "yarn", "longrope"}) {
    SCOPED_TRACE(type);
    json j = llama32_config();
    j["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}};
    expect_parse_error(j, ErrorCode::kUnsupported, {"\"rope_scaling\"", type});
  }
  json j = llama32_config();
  j["rope_scaling"].erase("low_freq_factor");
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"rope_scaling\"", "low_freq_factor"});
  j = llama32_config();
  j["rope_scaling"]["high_freq_factor"] = 1.0;
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"rope_scaling\"", "high_freq_factor"});
  j = llama32_config();
  j["rope_scaling"]["attention_factor"] = 0.5;
  expect_parse_error(j, ErrorCode::kUnsupported, {"\"rope_scaling\"", "attention_factor"});
}

TEST(ModelConfigFamiliesTest, UnknownArchitectureIsRefusedByName) {
  json j = llama32_config();
  j["architectures"] = {"MistralForCausalLM"};
  expect_parse_error(j, ErrorCode::kUnsupported, {"\"architectures\"", "MistralForCausalLM"});
  j["architectures"] = {"LlamaForCausalLM", "Qwen2ForCausalLM"};
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"architectures\"", "one"});
  j["architectures"] = "LlamaForCausalLM";
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"architectures\""});
  // model_type must agree with the architecture.
  j = qwen3_config();
  j["model_type"] = "qwen2";
  expect_parse_error(j, ErrorCode::kInvalidArgument,
                     {"\"model_type\"", "qwen2", "Qwen3ForCausalLM"});
  // Without "architectures", model_type decides.
  j.erase("architectures");
  j["model_type"] = "gemma";
  expect_parse_error(j, ErrorCode::kUnsupported, {"\"model_type\"", "gemma"});
  j["model_type"] = "qwen3";
  EXPECT_EQ(ModelConfig::parse(j.dump(), kOrigin).architecture, Architecture::kQwen3);
}

TEST(ModelConfigFamiliesTest, KeysThatChangeTheMathsAreRefusedByName) {
  struct Case {
    json config;
    const char* key;
    json value;
  };
  const std::vector<Case> cases = {
      {llama32_config(), "hidden_act", "gelu"},
      {llama32_config(), "partial_rotary_factor", 0.5},
      {qwen25_config(), "use_sliding_window", true},
      {qwen3_config(), "layer_types", json::array({"full_attention", "sliding_attention"})},
      {llama32_config(), "quantization_config", {{"quant_method", "awq"}}},
      {qwen25_config(), "mlp_bias", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value.dump());
    json j = c.config;
    j[c.key] = c.value;
    expect_parse_error(j, ErrorCode::kUnsupported, {std::string("\"") + c.key + "\""});
  }
  // Values that change nothing are accepted.
  json j = qwen25_config();
  j["use_sliding_window"] = false;
  j["sliding_window"] = 4096;  // ignored, as in Transformers, while use_sliding_window is false
  j["partial_rotary_factor"] = 1.0;
  j["layer_types"] = json::array({"full_attention", "full_attention"});
  EXPECT_NO_THROW(ModelConfig::parse(j.dump(), kOrigin));
}

TEST(ModelConfigFamiliesTest, BiasesFollowTheArchitecture) {
  json j = llama32_config();
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  ModelConfig c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_TRUE(c.qkv_bias && c.o_bias && c.mlp_bias);
  EXPECT_FALSE(c.biases_from_checkpoint());
  j = qwen3_config();
  j["attention_bias"] = true;
  c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_TRUE(c.qkv_bias && c.o_bias && !c.mlp_bias && c.qk_norm);
  // The project's own format: biases as the checkpoint has them.
  EXPECT_TRUE(ModelConfig::parse(valid_config().dump(), kOrigin).biases_from_checkpoint());
  j = llama32_config();
  j["attention_bias"] = "yes";
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"attention_bias\"", "true or false"});
}

TEST(ModelConfigFamiliesTest, DefaultsFollowTransformersPerArchitecture) {
  json j = qwen3_config();
  j.erase("head_dim");
  EXPECT_EQ(ModelConfig::parse(j.dump(), kOrigin).head_dim, 128);  // Qwen3Config's default
  j = qwen25_config();
  j.erase("num_key_value_heads");
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"num_key_value_heads\"", "missing"});
  j = llama32_config();
  j.erase("num_key_value_heads");
  j.erase("head_dim");
  const ModelConfig llama = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_EQ(llama.num_kv_heads, 32);  // LlamaConfig: the number of heads
  EXPECT_EQ(llama.head_dim, 64);      // hidden / heads
}

TEST(ModelConfigFamiliesTest, SegmentSizeOfAHubCheckpoint) {
  json j = qwen25_config();
  j["segment_size"] = 512;  // an Infini-trained checkpoint of this family names its own
  const ModelConfig c = ModelConfig::parse(j.dump(), kOrigin);
  EXPECT_EQ(c.segment_size, 512);
  EXPECT_TRUE(c.segment_size_in_config);
  j["segment_size"] = 0;
  expect_parse_error(j, ErrorCode::kInvalidArgument, {"\"segment_size\"", "positive"});
}

TEST(ModelConfigFamiliesTest, ToJsonRoundTripsEveryFamily) {
  for (const json& j : {llama32_config(), qwen25_config(), qwen3_config()}) {
    json attention_bias = j;
    if (j.at("model_type") != "qwen2") attention_bias["attention_bias"] = true;
    for (const json& variant : {j, attention_bias}) {
      const ModelConfig original = ModelConfig::parse(variant.dump(), kOrigin);
      const ModelConfig c = ModelConfig::parse(original.to_json(), "round trip");
      EXPECT_EQ(c.architecture, original.architecture);
      EXPECT_EQ(c.rope_llama3, original.rope_llama3);
      EXPECT_EQ(c.rope_inv_freq(), original.rope_inv_freq());
      EXPECT_EQ(c.qkv_bias, original.qkv_bias);
      EXPECT_EQ(c.o_bias, original.o_bias);
      EXPECT_EQ(c.mlp_bias, original.mlp_bias);
      EXPECT_EQ(c.qk_norm, original.qk_norm);
      EXPECT_EQ(c.head_dim, original.head_dim);
      EXPECT_EQ(c.segment_size, original.segment_size);
    }
  }
}

}  // namespace
}  // namespace infini
