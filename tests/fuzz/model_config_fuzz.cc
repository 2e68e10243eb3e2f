// Bytes as config.json text -> ModelConfig::parse. Every input either parses into
// a config that validate() accepts and that to_json() writes back to the same
// config, or is refused with an EngineError naming the file. Anything else (a
// crash, a sanitizer report, say signed overflow, another exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/error.h"
#include "engine/model_config.h"
#include "tests/fuzz/fuzz_check.h"

namespace infini {
namespace {

constexpr char kOrigin[] = "fuzz/config.json";

bool same(const ModelConfig& a, const ModelConfig& b) {
  return a.vocab_size == b.vocab_size && a.hidden_size == b.hidden_size &&
         a.intermediate_size == b.intermediate_size && a.num_layers == b.num_layers &&
         a.num_heads == b.num_heads && a.num_kv_heads == b.num_kv_heads &&
         a.head_dim == b.head_dim && a.rms_norm_eps == b.rms_norm_eps &&
         a.rope_theta == b.rope_theta && a.tie_word_embeddings == b.tie_word_embeddings &&
         a.segment_size == b.segment_size && a.memory_update == b.memory_update;
}

void check_parsed(const ModelConfig& config) {
  try {
    config.validate(kOrigin);
  } catch (const EngineError& e) {
    fuzz::fail(std::string("parse() accepted what validate() refuses: ") + e.what());
  }
  // What the forward pass derives from the shapes.
  fuzz::check(config.q_size() > 0 && config.kv_size() > 0, "q/kv sizes");
  fuzz::check(config.heads_per_kv() * config.num_kv_heads == config.num_heads, "heads per kv");
  fuzz::check(config.head_dim % 2 == 0, "odd head_dim");
  ModelConfig again;
  try {
    again = ModelConfig::parse(config.to_json(), "to_json()");
  } catch (const EngineError& e) {
    fuzz::fail(std::string("to_json() of a parsed config does not parse: ") + e.what());
  }
  fuzz::check(same(config, again), "to_json() does not round-trip");
}

}  // namespace
}  // namespace infini

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infini;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ModelConfig config;
  try {
    config = ModelConfig::parse(text, kOrigin);
  } catch (const EngineError& e) {
    if (e.code() == ErrorCode::kInternal || e.code() == ErrorCode::kNotFound) {
      fuzz::fail(std::string("unexpected error code ") + error_code_name(e.code()) + ": " +
                 e.what());
    }
    if (!std::string_view(e.what()).starts_with(std::string(kOrigin) + ": ")) {
      fuzz::fail(std::string("error without the file's name: ") + e.what());
    }
    return 0;
  } catch (const std::exception& e) {
    fuzz::fail(std::string("exception other than EngineError: ") + e.what());
  }
  check_parsed(config);
  return 0;
}
