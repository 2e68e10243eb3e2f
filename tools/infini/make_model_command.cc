// infini make-model: a random checkpoint in the Hugging Face layout.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "engine/tokenizer.h"
#include "tools/infini/commands.h"
#include "tools/infini/flags.h"

namespace infini::tool {

namespace {

DType parse_weight_dtype(const std::string& name) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  if (name == "f16") return DType::kF16;
  throw std::invalid_argument("--dtype must be f32, bf16 or f16, got '" + name + "'");
}

}  // namespace

int make_model_command(const std::vector<std::string>& args) {
  Flags flags(args, {"tied", "bias"});
  flags.allow_only({"out", "seed", "vocab", "hidden", "layers", "heads", "kv-heads", "head-dim",
                    "intermediate", "segment", "update", "dtype", "tied", "bias", "init-std",
                    "gate-logit", "tokenizer", "rope-theta"});
  const std::string out = flags.required("out");
  ModelConfig c;
  std::shared_ptr<const Tokenizer> tokenizer;
  if (auto path = flags.optional("tokenizer")) tokenizer = Tokenizer::load(*path);
  c.vocab_size = flags.integer("vocab", tokenizer ? tokenizer->vocab_size() : 256);
  if (tokenizer && c.vocab_size < tokenizer->vocab_size()) {
    throw std::invalid_argument("--vocab is smaller than the tokenizer's vocabulary");
  }
  c.hidden_size = flags.integer("hidden", 64);
  c.num_layers = flags.integer("layers", 2);
  c.num_heads = flags.integer("heads", 4);
  c.num_kv_heads = flags.integer("kv-heads", c.num_heads);
  c.head_dim = flags.integer("head-dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.intermediate_size = flags.integer("intermediate", c.hidden_size * 3);
  c.segment_size = flags.integer("segment", 64);
  c.rope_theta = flags.number("rope-theta", 10000.0);
  const std::string update = flags.str("update", "delta");
  if (update != "linear" && update != "delta") {
    throw std::invalid_argument("--update must be linear or delta, got '" + update + "'");
  }
  c.memory_update = update == "delta" ? MemoryUpdate::kDelta : MemoryUpdate::kLinear;
  c.tie_word_embeddings = flags.has("tied");
  c.validate("make-model flags");

  const uint64_t seed = static_cast<uint64_t>(flags.integer("seed", 0));
  const float init_std = static_cast<float>(flags.number("init-std", 0.05));
  const float gate_logit = static_cast<float>(flags.number("gate-logit", 0.0));
  auto tensors = random_weights(c, seed, init_std, gate_logit, flags.has("bias"));
  write_checkpoint(out, c, tensors, parse_weight_dtype(flags.str("dtype", "f32")));
  // `infini run` reads this marker and says plainly that the output is noise.
  {
    std::ofstream marker(std::filesystem::path(out) / "UNTRAINED");
    marker << "This checkpoint was written by `infini make-model` with random weights (seed "
           << seed << "). It exercises the engine; it has learned nothing.\n";
  }
  if (auto path = flags.optional("tokenizer")) {
    std::filesystem::copy_file(*path, std::filesystem::path(out) / "tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::fprintf(stderr,
               "wrote a random (untrained) checkpoint to %s: %lld layers, hidden %lld, "
               "%lld/%lld heads of %lld, segment %lld, %s memory\n",
               out.c_str(), static_cast<long long>(c.num_layers),
               static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_heads),
               static_cast<long long>(c.num_kv_heads), static_cast<long long>(c.head_dim),
               static_cast<long long>(c.segment_size), memory_update_name(c.memory_update));
  return 0;
}

}  // namespace infini::tool
