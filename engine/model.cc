#include "engine/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "engine/infini_attention.h"

namespace infini {

struct Model::Layer {
  Tensor input_norm;   // [1, hidden]
  Tensor post_norm;    // [1, hidden]
  Tensor gate_logits;  // beta per query head, [1, H]
  // q, k and v stacked into one product; gate and up likewise.
  std::unique_ptr<LinearWeight> qkv, o, gate_up, down;
};

namespace {

class WeightReader {
 public:
  WeightReader(const Model::TensorLookup& lookup, std::string origin)
      : lookup_(lookup), origin_(std::move(origin)) {}

  const TensorView* find(const std::string& name) const { return lookup_(name); }

  // The tensor as float32, checked against the expected shape.
  std::vector<float> get(const std::string& name, std::vector<int64_t> shape) const {
    const TensorView* t = lookup_(name);
    if (t == nullptr) {
      throw EngineError(ErrorCode::kNotFound, origin_ + ": missing tensor '" + name + "'");
    }
    if (t->shape != shape) {
      throw EngineError(ErrorCode::kCorruptData, origin_ + ": tensor '" + name + "' has shape " +
                                                     shape_text(t->shape) + ", expected " +
                                                     shape_text(shape) + " from config.json");
    }
    return t->to_f32();
  }

  static std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

 private:
  const Model::TensorLookup& lookup_;
  std::string origin_;
};

// Stacks matrices (and their optional biases) row-wise into one weight.
std::unique_ptr<LinearWeight> stacked_linear(Backend& backend, const WeightReader& reader,
                                             const std::vector<std::string>& names,
                                             const std::vector<int64_t>& rows, int64_t in,
                                             int64_t& bytes) {
  std::vector<float> weight, bias;
  bool any_bias = false;
  for (const auto& name : names) any_bias |= reader.find(name + ".bias") != nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    auto w = reader.get(names[i] + ".weight", {rows[i], in});
    weight.insert(weight.end(), w.begin(), w.end());
    if (any_bias) {
      if (reader.find(names[i] + ".bias") != nullptr) {
        auto b = reader.get(names[i] + ".bias", {rows[i]});
        bias.insert(bias.end(), b.begin(), b.end());
      } else {
        bias.insert(bias.end(), static_cast<size_t>(rows[i]), 0.0f);
      }
    }
  }
  int64_t out = 0;
  for (int64_t r : rows) out += r;
  auto linear = backend.upload_linear(weight.data(), out, in, any_bias ? bias.data() : nullptr);
  bytes += linear->bytes();
  return linear;
}

}  // namespace

Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) {
    throw EngineError(ErrorCode::kNotFound, "model directory '" + dir + "' does not exist");
  }
  ModelConfig config = ModelConfig::load((fs::path(dir) / "config.json").string());
  auto file = SafetensorsFile::open((fs::path(dir) / "model.safetensors").string());
  const SafetensorsFile& f = *file;
  return build(
      config, [&f](const std::string& name) { return f.has(name) ? &f.tensor(name) : nullptr; },
      options, file->path());
}

std::shared_ptr<const Model> Model::build(const ModelConfig& config, const TensorLookup& lookup,
                                          const LoadOptions& options, const std::string& origin) {
  config.validate(origin);
  if (options.gate && !(*options.gate > 0.0f && *options.gate < 1.0f)) {
    throw EngineError(ErrorCode::kInvalidArgument, "gate must be strictly between 0 and 1, got " +
                                                       std::to_string(*options.gate));
  }
  std::shared_ptr<Model> model(new Model());
  model->config_ = config;
  model->backend_ = make_backend(options.backend, options.dtype);
  model->shape_ = AttentionShape{config.num_heads, config.num_kv_heads, config.head_dim,
                                 config.segment_size, config.rope_theta};
  Backend& backend = *model->backend_;
  WeightReader reader(lookup, origin);
  const int64_t hidden = config.hidden_size;
  int64_t& bytes = model->weight_bytes_;

  auto vector_tensor = [&](const std::string& name, int64_t size) {
    auto values = reader.get(name, {size});
    bytes += size * 4;
    return backend.upload(values.data(), 1, size);
  };

  auto embedding = reader.get("model.embed_tokens.weight", {config.vocab_size, hidden});
  model->embedding_ = backend.upload(embedding.data(), config.vocab_size, hidden);
  bytes += model->embedding_.bytes();
  model->final_norm_ = vector_tensor("model.norm.weight", hidden);
  if (config.tie_word_embeddings) {
    model->lm_head_ = backend.upload_linear(embedding.data(), config.vocab_size, hidden, nullptr);
    bytes += model->lm_head_->bytes();
  } else {
    model->lm_head_ =
        stacked_linear(backend, reader, {"lm_head"}, {config.vocab_size}, hidden, bytes);
  }
  embedding.clear();
  embedding.shrink_to_fit();

  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.input_norm = vector_tensor(p + "input_layernorm.weight", hidden);
    layer.post_norm = vector_tensor(p + "post_attention_layernorm.weight", hidden);
    const std::string gate_name = p + "self_attn.memory_gate";
    if (reader.find(gate_name) != nullptr && !options.force_gate) {
      layer.gate_logits = vector_tensor(gate_name, config.num_heads);
    } else if (options.gate) {
      const float beta = std::log(*options.gate / (1.0f - *options.gate));
      std::vector<float> betas(static_cast<size_t>(config.num_heads), beta);
      layer.gate_logits = backend.upload(betas.data(), 1, config.num_heads);
    } else {
      throw EngineError(ErrorCode::kNotFound,
                        origin + ": missing tensor '" + gate_name +
                            "' (a plain Llama checkpoint: pass a gate value, e.g. --gate 0.5, "
                            "to run it with untrained memory)");
    }
    layer.qkv = stacked_linear(backend, reader,
                               {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                               {config.q_size(), config.kv_size(), config.kv_size()}, hidden, bytes);
    layer.o = stacked_linear(backend, reader, {p + "self_attn.o_proj"}, {hidden}, config.q_size(),
                             bytes);
    layer.gate_up = stacked_linear(backend, reader, {p + "mlp.gate_proj", p + "mlp.up_proj"},
                                   {config.intermediate_size, config.intermediate_size}, hidden,
                                   bytes);
    layer.down = stacked_linear(backend, reader, {p + "mlp.down_proj"}, {hidden},
                                config.intermediate_size, bytes);
    model->layers_.push_back(std::move(layer));
  }
  return model;
}

SessionState Model::new_session() const { return SessionState(backend_, config_); }

void Model::ingest(SessionState& state, std::span<const int32_t> ids,
                   ForwardStats* stats) const {
  std::vector<float> none;
  run(state, ids, Logits::kNone, none, stats);
}

std::vector<float> Model::logits_all(SessionState& state, std::span<const int32_t> ids) const {
  std::vector<float> logits(ids.size() * static_cast<size_t>(config_.vocab_size));
  run(state, ids, Logits::kAll, logits, nullptr);
  return logits;
}

std::vector<float> Model::logits_last(SessionState& state, std::span<const int32_t> ids) const {
  if (ids.empty()) {
    throw EngineError(ErrorCode::kInvalidArgument, "logits of the last token need a token");
  }
  std::vector<float> logits(static_cast<size_t>(config_.vocab_size));
  run(state, ids, Logits::kLast, logits, nullptr);
  return logits;
}

void Model::run(SessionState& state, std::span<const int32_t> ids, Logits mode,
                std::vector<float>& logits, ForwardStats* stats) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      throw EngineError(ErrorCode::kOutOfRange,
                        "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                            " is outside the vocabulary [0, " +
                            std::to_string(config_.vocab_size) + ")");
    }
  }
  const int64_t S = config_.segment_size;
  size_t done = 0;
  while (done < ids.size()) {
    const int64_t room = S - state.segment_offset();
    const size_t count = std::min(static_cast<size_t>(room), ids.size() - done);
    const bool last_piece = done + count == ids.size();
    Logits piece_mode = mode == Logits::kAll ? Logits::kAll
                        : (mode == Logits::kLast && last_piece) ? Logits::kLast
                                                                : Logits::kNone;
    float* out = mode == Logits::kAll ? logits.data() + done * config_.vocab_size : logits.data();
    run_piece(state, ids.subspan(done, count), piece_mode, out, stats);
    done += count;
  }
}

void Model::run_piece(SessionState& state, std::span<const int32_t> ids, Logits mode,
                      float* logits, ForwardStats* stats) const {
  Backend& be = *backend_;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t first = state.segment_offset();
  const int64_t hidden = config_.hidden_size, inter = config_.intermediate_size;
  const int64_t qs = config_.q_size(), kvs = config_.kv_size();
  const bool memory_written = state.segments() > 0;

  Tensor x = be.allocate(n, hidden);
  Tensor h = be.allocate(n, hidden);
  Tensor qkv = be.allocate(n, qs + 2 * kvs);
  Tensor attn = be.allocate(n, qs);
  Tensor proj = be.allocate(n, hidden);
  Tensor gate_up = be.allocate(n, 2 * inter);
  Tensor act = be.allocate(n, inter);
  be.embed(ids.data(), n, embedding_, x);

  const float eps = static_cast<float>(config_.rms_norm_eps);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    LayerState& ls = state.layers()[l];
    be.rms_norm(x, layer.input_norm, eps, h);
    be.linear(h, *layer.qkv, qkv);
    Tensor k_rows = ls.keys.row_range(first, n);
    Tensor v_rows = ls.values.row_range(first, n);
    be.copy(qkv.col_range(qs, kvs), k_rows);
    be.copy(qkv.col_range(qs + kvs, kvs), v_rows);
    infini_attention(be, shape_, qkv.col_range(0, qs), layer.gate_logits, ls, first,
                     memory_written, attn);
    be.linear(attn, *layer.o, proj);
    be.add(x, proj);
    be.rms_norm(x, layer.post_norm, eps, h);
    be.linear(h, *layer.gate_up, gate_up);
    be.swiglu(gate_up.col_range(0, inter), gate_up.col_range(inter, inter), act);
    be.linear(act, *layer.down, proj);
    be.add(x, proj);
  }

  if (mode != Logits::kNone) {
    const Tensor rows = mode == Logits::kAll ? x : x.row_range(n - 1, 1);
    Tensor normed = be.allocate(rows.rows(), hidden);
    be.rms_norm(rows, final_norm_, eps, normed);
    Tensor out = be.allocate(rows.rows(), config_.vocab_size);
    be.linear(normed, *lm_head_, out);
    be.download(out, logits);
  }

  state.advance(n);
  if (state.segment_offset() == 0) {
    const auto fold_start = std::chrono::steady_clock::now();
    for (LayerState& ls : state.layers()) {
      fold_segment(be, shape_, config_.memory_update, ls);
    }
    state.segment_folded();
    if (stats != nullptr) {
      be.synchronize();
      stats->segments_folded += 1;
      stats->fold_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - fold_start).count();
    }
  }
  be.synchronize();
}

}  // namespace infini
