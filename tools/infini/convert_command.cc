// infini convert: an Infini checkpoint from a plain Llama-family one.
//
// The output directory holds config.json (the source's keys in their order,
// plus segment_size and memory_update), the source's safetensors files
// hard-linked under their own names (copied where a link is impossible:
// another file system), memory_gates.safetensors with every layer's
// `model.layers.{i}.self_attn.memory_gate` [num_attention_heads] in F32, and
// model.safetensors.index.json mapping every tensor to its file. The index
// is the way in (a single source model.safetensors is linked as
// model-00001-of-00001.safetensors: see output_name). The source's tensors
// are not rewritten, so converting an 8B model costs seconds and no disk;
// only --force on an Infini checkpoint rewrites the files holding old gates.
//
// The gates start at one logit for every head (default -4, sigmoid 0.018):
// inside the first segment the converted model computes 0.982 x the source's
// attention output and later segments add 1.8% of an untrained memory read,
// so it starts close to the source on in-segment text, while the gate's
// gradient, sigmoid'(-4) = 0.018 of its largest, is still large enough for
// continual training's own gate learning rate to move it. A gate forced to
// 0 (LoadOptions.force_gate, `infini eval`'s memory-off baseline) gives the
// source's logits exactly.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "tools/infini/commands.h"
#include "tools/infini/flags.h"

namespace infini::tool {

namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";
constexpr const char* kGatesName = "memory_gates.safetensors";
// Tokenizers, chat and prompt templates, generation defaults, the held-out
// prose of `infini eval --filler prose`, and make-model's untrained marker.
constexpr const char* kCompanionFiles[] = {
    "tokenizer.json",         "tokenizer_config.json",   "tokenizer.model",
    "generation_config.json", "special_tokens_map.json", "chat_template.jinja",
    "prompt_template.json",   "eval-prose.txt",          "UNTRAINED"};

bool is_gate(const std::string& name) {
  static const std::string suffix = ".self_attn.memory_gate";
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(ErrorCode::kNotFound, path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ordered_json parse_json(const fs::path& path) {
  try {
    return ordered_json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(ErrorCode::kCorruptData, path.string() + ": invalid JSON: " + e.what());
  }
}

// The source's tensors: name -> the file (inside the source) that holds it.
struct SourceWeights {
  std::map<std::string, std::string> file_of;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files;  // by file name
  bool has_index = false;

  const TensorView* find(const std::string& name) const {
    auto it = file_of.find(name);
    if (it == file_of.end()) return nullptr;
    return &files.at(it->second)->tensor(name);
  }
};

SourceWeights open_source_weights(const fs::path& from) {
  SourceWeights w;
  const fs::path index = from / kIndexName;
  if (fs::is_regular_file(index)) {
    w.has_index = true;
    const ordered_json root = parse_json(index);
    if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object() ||
        root["weight_map"].empty()) {
      throw EngineError(ErrorCode::kCorruptData,
                        index.string() + ": no \"weight_map\" object naming the tensors");
    }
    for (const auto& [name, file] : root["weight_map"].items()) {
      if (!file.is_string()) {
        throw EngineError(ErrorCode::kCorruptData,
                          index.string() + ": \"weight_map\" entry \"" + name + "\" is not a file name");
      }
      const std::string file_name = file.get<std::string>();
      if (file_name.empty() || file_name.find('/') != std::string::npos || file_name[0] == '.') {
        throw EngineError(ErrorCode::kCorruptData, index.string() + ": tensor \"" + name +
                                                       "\" maps to \"" + file_name +
                                                       "\", not a file of this directory");
      }
      w.file_of[name] = file_name;
    }
  } else if (fs::is_regular_file(from / kSingleName)) {
    w.files[kSingleName] = SafetensorsFile::open((from / kSingleName).string());
    for (const std::string& name : w.files[kSingleName]->names()) w.file_of[name] = kSingleName;
    return w;
  } else {
    throw EngineError(ErrorCode::kNotFound,
                      from.string() + ": not a checkpoint: neither " + std::string(kIndexName) +
                          " nor " + kSingleName);
  }
  for (const auto& [name, file_name] : w.file_of) {
    if (!w.files.count(file_name)) {
      w.files[file_name] = SafetensorsFile::open((from / file_name).string());
    }
    if (!w.files[file_name]->has(name)) {
      throw EngineError(ErrorCode::kCorruptData, (from / kIndexName).string() + ": tensor \"" +
                                                     name + "\" is not in " + file_name);
    }
  }
  return w;
}

// The tensors the engine needs, with the shapes config.json implies: a
// source that lacks one is refused before anything is written.
void check_weights(const SourceWeights& w, const ModelConfig& c, const std::string& from) {
  auto expect = [&](const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = w.find(name);
    if (t == nullptr) {
      throw EngineError(ErrorCode::kNotFound,
                        from + ": not a Llama-family checkpoint: tensor \"" + name + "\" missing");
    }
    if (t->shape != shape) {
      std::string want, got;
      for (int64_t d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
      for (int64_t d : t->shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
      throw EngineError(ErrorCode::kCorruptData, from + ": tensor \"" + name + "\" has shape [" +
                                                     got + "], config.json implies [" + want + "]");
    }
  };
  expect("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  expect("model.norm.weight", {c.hidden_size});
  if (!c.tie_word_embeddings) expect("lm_head.weight", {c.vocab_size, c.hidden_size});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    expect(p + "input_layernorm.weight", {c.hidden_size});
    expect(p + "self_attn.q_proj.weight", {c.q_size(), c.hidden_size});
    expect(p + "self_attn.k_proj.weight", {c.kv_size(), c.hidden_size});
    expect(p + "self_attn.v_proj.weight", {c.kv_size(), c.hidden_size});
    expect(p + "self_attn.o_proj.weight", {c.hidden_size, c.q_size()});
    expect(p + "post_attention_layernorm.weight", {c.hidden_size});
    expect(p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size});
    expect(p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size});
    expect(p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size});
  }
}

// Hard link, or a copy where the file system refuses one. Returns true if linked.
bool link_or_copy(const fs::path& from, const fs::path& to, bool copy_only) {
  std::error_code ec;
  if (!copy_only) {
    fs::create_hard_link(from, to, ec);
    if (!ec) return true;
  }
  fs::copy_file(from, to, ec);
  if (ec) {
    throw EngineError(ErrorCode::kInternal,
                      "cannot link or copy " + from.string() + " to " + to.string() + ": " +
                          ec.message());
  }
  return false;
}

// A single model.safetensors is linked under a shard's name: a directory
// with both that file and an index is ambiguous (Transformers reads the
// single file, which has no gates), and the engine refuses it.
std::string output_name(const std::string& source_name) {
  return source_name == kSingleName ? "model-00001-of-00001.safetensors" : source_name;
}

// Writes `file`'s tensors except the memory gates to `path`, in the file's
// dtype when all share one (F32 otherwise, which loses nothing).
void rewrite_without_gates(const SafetensorsFile& file, const std::string& path) {
  std::vector<NamedTensor> kept;
  std::set<DType> dtypes;
  for (const std::string& name : file.names()) {
    if (is_gate(name)) continue;
    const TensorView& t = file.tensor(name);
    dtypes.insert(t.dtype);
    kept.push_back(NamedTensor{name, t.shape, t.to_f32()});
  }
  write_safetensors(path, kept, dtypes.size() == 1 ? *dtypes.begin() : DType::kF32);
}

void write_json(const fs::path& path, const ordered_json& value) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << value.dump(2) << "\n";
  out.close();
  if (!out) throw EngineError(ErrorCode::kInternal, path.string() + ": write failed");
}

struct Options {
  fs::path from, out;
  int64_t segment = 0;
  MemoryUpdate update = MemoryUpdate::kDelta;
  float gate_logit = -4.0f;
  bool force = false;
  bool copy = false;
};

Options parse_options(const std::vector<std::string>& args) {
  Flags flags(args, {"force", "copy"});
  flags.allow_only({"from", "out", "segment", "update", "gate-logit", "force", "copy"});
  Options o;
  o.from = flags.required("from");
  o.out = flags.required("out");
  if (!flags.has("segment")) {
    throw std::invalid_argument("--segment is required: the segment size S in tokens");
  }
  o.segment = flags.integer("segment", 0);
  if (o.segment < 1 || o.segment > (1 << 20)) {
    throw std::invalid_argument("--segment must be between 1 and 1048576 tokens, got " +
                                std::to_string(o.segment));
  }
  if (!flags.has("update")) throw std::invalid_argument("--update is required: delta or linear");
  const std::string update = flags.str("update", "");
  if (update != "delta" && update != "linear") {
    throw std::invalid_argument("--update must be delta or linear, got '" + update + "'");
  }
  o.update = update == "delta" ? MemoryUpdate::kDelta : MemoryUpdate::kLinear;
  const double gate = flags.number("gate-logit", -4.0);
  if (!std::isfinite(gate) || std::fabs(gate) > 30.0) {
    throw std::invalid_argument("--gate-logit must be a finite number in [-30, 30]");
  }
  o.gate_logit = static_cast<float>(gate);
  o.force = flags.has("force");
  o.copy = flags.has("copy");
  return o;
}

}  // namespace

int convert_command(const std::vector<std::string>& args) {
  const Options o = parse_options(args);
  if (!fs::is_directory(o.from)) {
    throw EngineError(ErrorCode::kNotFound,
                      o.from.string() + ": not a checkpoint: no such directory");
  }
  const fs::path config_path = o.from / "config.json";
  if (!fs::is_regular_file(config_path)) {
    throw EngineError(ErrorCode::kNotFound,
                      o.from.string() + ": not a checkpoint: no config.json");
  }
  if (fs::exists(o.out) && !(fs::is_directory(o.out) && fs::is_empty(o.out))) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      o.out.string() + ": exists and is not an empty directory; choose a new --out");
  }
  if (fs::exists(o.out) && fs::equivalent(o.out, o.from)) {
    throw EngineError(ErrorCode::kInvalidArgument, "--out must differ from --from");
  }

  ordered_json config = parse_json(config_path);
  if (!config.is_object()) {
    throw EngineError(ErrorCode::kCorruptData, config_path.string() + ": must be a JSON object");
  }
  SourceWeights weights = open_source_weights(o.from);
  size_t gates_found = 0;
  for (const auto& [name, file] : weights.file_of) gates_found += is_gate(name) ? 1 : 0;
  if (gates_found > 0 && !o.force) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      o.from.string() + ": already an Infini checkpoint (" +
                          std::to_string(gates_found) +
                          " memory_gate tensors); pass --force to start its gates over");
  }
  config["segment_size"] = o.segment;
  config["memory_update"] = memory_update_name(o.update);
  // The engine's own parser decides: what it cannot load is not written.
  const ModelConfig parsed = ModelConfig::parse(config.dump(), config_path.string());
  check_weights(weights, parsed, o.from.string());

  // Everything is written into a sibling directory first and renamed at the
  // end, so a failure leaves no half-converted --out behind.
  const fs::path out = fs::absolute(o.out).lexically_normal();
  const fs::path staging = out.parent_path() / (out.filename().string() + ".converting");
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      staging.string() + ": cannot create: " + ec.message());
  }
  int linked = 0, copied = 0;
  std::vector<std::string> companions;
  try {
    std::map<std::string, std::string> weight_map;  // sorted by name, as Hugging Face writes it
    uint64_t total_size = 0;
    for (const auto& [file_name, file] : weights.files) {
      const std::string dest = output_name(file_name);
      bool had_gates = false;
      for (const std::string& name : file->names()) {
        had_gates = had_gates || is_gate(name);
      }
      if (had_gates) {
        // --force: the old gates must leave their file, since a loader
        // refuses a shard holding tensors its index does not list there.
        rewrite_without_gates(*file, (staging / dest).string());
        ++copied;
      } else {
        link_or_copy(o.from / file_name, staging / dest, o.copy) ? ++linked : ++copied;
      }
    }
    for (const auto& [name, file_name] : weights.file_of) {
      if (is_gate(name)) continue;  // --force: the new gates replace them
      weight_map[name] = output_name(file_name);
      const TensorView* t = weights.find(name);
      total_size += static_cast<uint64_t>(t->numel()) * dtype_size(t->dtype);
    }
    std::vector<NamedTensor> gates;
    for (int64_t i = 0; i < parsed.num_layers; ++i) {
      NamedTensor g{"model.layers." + std::to_string(i) + ".self_attn.memory_gate",
                    {parsed.num_heads},
                    std::vector<float>(static_cast<size_t>(parsed.num_heads), o.gate_logit)};
      weight_map[g.name] = kGatesName;
      total_size += static_cast<uint64_t>(parsed.num_heads) * sizeof(float);
      gates.push_back(std::move(g));
    }
    write_safetensors((staging / kGatesName).string(), gates, DType::kF32);
    ordered_json map_json = ordered_json::object();
    for (const auto& [name, file] : weight_map) map_json[name] = file;
    write_json(staging / kIndexName,
               ordered_json{{"metadata", {{"total_size", total_size}}}, {"weight_map", map_json}});
    write_json(staging / "config.json", config);
    for (const char* name : kCompanionFiles) {
      if (fs::is_regular_file(o.from / name)) {
        fs::copy_file(o.from / name, staging / name);
        companions.push_back(name);
      }
    }
    if (fs::exists(out)) fs::remove(out);  // checked above: an empty directory
    fs::rename(staging, out);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }

  std::string copied_text;
  for (const auto& name : companions) copied_text += (copied_text.empty() ? "" : ", ") + name;
  std::fprintf(stderr,
               "converted %s -> %s: %lld layers x %lld gates at logit %.2f (sigmoid %.4f), "
               "segment %lld, %s memory; %d weight file(s) linked, %d copied; %s\n",
               o.from.c_str(), out.c_str(), static_cast<long long>(parsed.num_layers),
               static_cast<long long>(parsed.num_heads), o.gate_logit,
               1.0 / (1.0 + std::exp(-o.gate_logit)), static_cast<long long>(o.segment),
               memory_update_name(o.update), linked, copied,
               companions.empty() ? "no tokenizer or template files found"
                                  : ("copied " + copied_text).c_str());
  return 0;
}

}  // namespace infini::tool
