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

TEST(ModelConfigTest, RopeScalingIsRejectedNotIgnored) {
  json config = valid_config();
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_parse_error(config, ErrorCode::kUnsupported, {"rope_scaling", "llama3"});
  config["rope_scaling"] = nullptr;  // HF writes null for "none"
  EXPECT_NO_THROW(ModelConfig::parse(config.dump(), kOrigin));
}

}  // namespace
}  // namespace infini
