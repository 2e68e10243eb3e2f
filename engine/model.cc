#include "engine/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/checkpoint_tensors.h"
#include "engine/error.h"
#include "engine/infini_attention.h"

namespace infini {

struct Model::Layer {
  Tensor input_norm;      // [1, hidden]
  Tensor post_norm;       // [1, hidden]
  Tensor gate_logits;     // beta per query head, [1, H]; empty with memory off
  Tensor q_norm, k_norm;  // Qwen3's per-head RMSNorm weights, [1, d]; empty otherwise
  // q, k and v stacked into one product; gate and up likewise.
  std::unique_ptr<LinearWeight> qkv, o, gate_up, down;
};

// The checkpoint's tensors as the model reads them: checked against the
// shapes config.json implies, converted to float32, and remembered, so that
// a tensor nobody read is found afterwards. Errors name the tensor's file.
class WeightReader {
 public:
  using FileOf = std::function<std::string(const std::string& name)>;
  using Release = std::function<void(const std::string& name)>;
  WeightReader(const Model::TensorLookup& lookup, FileOf file_of, Release release)
      : lookup_(lookup), file_of_(std::move(file_of)), release_(std::move(release)) {}

  bool has(const std::string& name) const { return lookup_(name) != nullptr; }
  std::string file_of(const std::string& name) const { return file_of_(name); }

  // The tensor as float32, checked against the expected shape.
  std::vector<float> get(const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = lookup_(name);
    if (t == nullptr) {
      throw EngineError(ErrorCode::kNotFound, file_of_(name) + ": missing tensor '" + name + "'");
    }
    if (t->shape != shape) {
      throw EngineError(ErrorCode::kCorruptData, file_of_(name) + ": tensor '" + name +
                                                     "' has shape " + shape_text(t->shape) +
                                                     ", expected " + shape_text(shape) +
                                                     " from config.json");
    }
    used_.insert(name);
    std::vector<float> values = t->to_f32();
    if (release_) release_(name);
    return values;
  }

  const std::set<std::string>& used() const { return used_; }

  static std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

 private:
  const Model::TensorLookup& lookup_;
  FileOf file_of_;
  Release release_;
  std::set<std::string> used_;
};

namespace {

// Stacks matrices (and their biases, where `biased` says so) row-wise into
// one weight.
std::unique_ptr<LinearWeight> stacked_linear(Backend& backend, WeightReader& reader,
                                             const std::vector<std::string>& names,
                                             const std::vector<bool>& biased,
                                             const std::vector<int64_t>& rows, int64_t in,
                                             int64_t& bytes) {
  std::vector<float> weight, bias;
  bool any_bias = false;
  for (bool b : biased) any_bias |= b;
  for (size_t i = 0; i < names.size(); ++i) {
    auto w = reader.get(names[i] + ".weight", {rows[i], in});
    weight.insert(weight.end(), w.begin(), w.end());
    if (any_bias) {
      if (biased[i]) {
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

// Buffers that some Transformers versions saved with the weights: the rotary
// inverse frequencies, which the engine computes from config.json (rope_theta,
// rope_scaling) instead. Accepted and not read.
bool ignored_tensor(const std::string& name) { return name.ends_with(".rotary_emb.inv_freq"); }

}  // namespace

Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) {
    throw EngineError(ErrorCode::kNotFound, "model directory '" + dir + "' does not exist");
  }
  const std::string config_path = (fs::path(dir) / "config.json").string();
  ModelConfig config = ModelConfig::load(config_path);
  if (options.segment_size) {
    if (*options.segment_size <= 0) {
      throw EngineError(ErrorCode::kInvalidArgument, "segment size must be positive, got " +
                                                         std::to_string(*options.segment_size));
    }
    config.segment_size = *options.segment_size;
  }
  auto checkpoint = CheckpointTensors::open(dir);
  const CheckpointTensors& c = *checkpoint;
  const TensorLookup lookup = [&c](const std::string& name) { return c.find(name); };
  WeightReader reader(
      lookup,
      [&c](const std::string& name) {
        const std::string& file = c.file_of(name);
        return file.empty() ? c.origin() : file;
      },
      [&c](const std::string& name) { c.release(name); });
  auto model = assemble(config, reader, options);
  std::vector<std::string> unused;
  for (const std::string& name : c.names()) {
    if (reader.used().count(name) == 0 && !ignored_tensor(name)) unused.push_back(name);
  }
  if (!unused.empty()) {
    throw EngineError(
        ErrorCode::kUnsupported,
        c.file_of(unused.front()) + ": tensor '" + unused.front() + "'" +
            (unused.size() > 1 ? " (and " + std::to_string(unused.size() - 1) + " more)" : "") +
            " is not part of a " + architecture_name(config.architecture) + " checkpoint as " +
            config_path +
            " describes it; refusing to ignore it (a bias, norm or layer the "
            "config does not call for changes the computation)");
  }
  return model;
}

std::shared_ptr<const Model> Model::build(const ModelConfig& config, const TensorLookup& lookup,
                                          const LoadOptions& options, const std::string& origin) {
  WeightReader reader(
      lookup, [&origin](const std::string&) { return origin; }, nullptr);
  return assemble(config, reader, options);
}

std::shared_ptr<const Model> Model::assemble(const ModelConfig& config, WeightReader& reader,
                                             const LoadOptions& options) {
  config.validate("config");
  if (options.gate && !(*options.gate > 0.0f && *options.gate < 1.0f)) {
    throw EngineError(ErrorCode::kInvalidArgument, "gate must be strictly between 0 and 1, got " +
                                                       std::to_string(*options.gate));
  }
  // Memory gates are in every layer or in none (a plain Hugging Face checkpoint).
  int64_t gated_layers = 0;
  for (int64_t l = 0; l < config.num_layers; ++l) {
    gated_layers += reader.has("model.layers." + std::to_string(l) + ".self_attn.memory_gate");
  }
  if (gated_layers != 0 && gated_layers != config.num_layers) {
    for (int64_t l = 0; l < config.num_layers; ++l) {
      const std::string name = "model.layers." + std::to_string(l) + ".self_attn.memory_gate";
      if (!reader.has(name)) reader.get(name, {config.num_heads});  // throws, naming it
    }
  }
  const bool checkpoint_gates = gated_layers == config.num_layers && !options.force_gate;

  std::shared_ptr<Model> model(new Model());
  model->config_ = config;
  model->memory_enabled_ = checkpoint_gates || options.gate.has_value();
  model->backend_ = make_backend(options.backend, options.dtype);
  model->shape_ = AttentionShape{config.num_heads, config.num_kv_heads, config.head_dim,
                                 config.segment_size, config.rope_inv_freq()};
  Backend& backend = *model->backend_;
  const int64_t hidden = config.hidden_size;
  int64_t& bytes = model->weight_bytes_;

  auto vector_tensor = [&](const std::string& name, int64_t size) {
    auto values = reader.get(name, {size});
    bytes += size * 4;
    return backend.upload(values.data(), 1, size);
  };
  // Which linears have a bias: fixed by config.json, or (own format) by the file.
  auto biased = [&](const std::string& name, bool by_config) {
    return config.biases_from_checkpoint() ? reader.has(name + ".bias") : by_config;
  };

  {
    auto embedding = reader.get("model.embed_tokens.weight", {config.vocab_size, hidden});
    if (config.tie_word_embeddings && reader.has("lm_head.weight")) {
      // Some tied checkpoints also store the head. Transformers ties it to
      // the embeddings and never reads it; here it is read and must be the
      // same values, or the checkpoint is refused rather than half-ignored.
      if (reader.get("lm_head.weight", {config.vocab_size, hidden}) != embedding) {
        throw EngineError(ErrorCode::kUnsupported,
                          reader.file_of("lm_head.weight") +
                              ": tensor 'lm_head.weight' differs from model.embed_tokens.weight, "
                              "but config.json has tie_word_embeddings true (one of them would "
                              "be ignored)");
      }
    }
    model->embedding_ = backend.upload_linear(embedding.data(), config.vocab_size, hidden, nullptr);
    bytes += model->embedding_->bytes();
  }
  model->final_norm_ = vector_tensor("model.norm.weight", hidden);
  if (config.tie_word_embeddings) {
    model->lm_head_ = model->embedding_;  // one copy for both
  } else {
    model->lm_head_ = stacked_linear(backend, reader, {"lm_head"}, {biased("lm_head", false)},
                                     {config.vocab_size}, hidden, bytes);
  }

  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.input_norm = vector_tensor(p + "input_layernorm.weight", hidden);
    layer.post_norm = vector_tensor(p + "post_attention_layernorm.weight", hidden);
    const std::string gate_name = p + "self_attn.memory_gate";
    if (checkpoint_gates) {
      layer.gate_logits = vector_tensor(gate_name, config.num_heads);
    } else {
      // Overridden by force_gate: still checked, and so not "unused".
      if (reader.has(gate_name)) reader.get(gate_name, {config.num_heads});
      if (options.gate) {
        const float beta = std::log(*options.gate / (1.0f - *options.gate));
        std::vector<float> betas(static_cast<size_t>(config.num_heads), beta);
        layer.gate_logits = backend.upload(betas.data(), 1, config.num_heads);
      }
    }
    if (config.qk_norm) {
      layer.q_norm = vector_tensor(p + "self_attn.q_norm.weight", config.head_dim);
      layer.k_norm = vector_tensor(p + "self_attn.k_norm.weight", config.head_dim);
    }
    const std::string a = p + "self_attn.", m = p + "mlp.";
    layer.qkv = stacked_linear(
        backend, reader, {a + "q_proj", a + "k_proj", a + "v_proj"},
        {biased(a + "q_proj", config.qkv_bias), biased(a + "k_proj", config.qkv_bias),
         biased(a + "v_proj", config.qkv_bias)},
        {config.q_size(), config.kv_size(), config.kv_size()}, hidden, bytes);
    layer.o = stacked_linear(backend, reader, {a + "o_proj"}, {biased(a + "o_proj", config.o_bias)},
                             {hidden}, config.q_size(), bytes);
    layer.gate_up = stacked_linear(
        backend, reader, {m + "gate_proj", m + "up_proj"},
        {biased(m + "gate_proj", config.mlp_bias), biased(m + "up_proj", config.mlp_bias)},
        {config.intermediate_size, config.intermediate_size}, hidden, bytes);
    layer.down = stacked_linear(backend, reader, {m + "down_proj"},
                                {biased(m + "down_proj", config.mlp_bias)}, {hidden},
                                config.intermediate_size, bytes);
    model->layers_.push_back(std::move(layer));
  }
  return model;
}

SessionState Model::new_session() const { return SessionState(backend_, config_); }

void Model::ingest(SessionState& state, std::span<const int32_t> ids, ForwardStats* stats) const {
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

void Model::check_ids(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      throw EngineError(ErrorCode::kOutOfRange, "token id " + std::to_string(ids[i]) +
                                                    " at index " + std::to_string(i) +
                                                    " is outside the vocabulary [0, " +
                                                    std::to_string(config_.vocab_size) + ")");
    }
  }
}

void Model::run(SessionState& state, std::span<const int32_t> ids, Logits mode,
                std::vector<float>& logits, ForwardStats* stats) const {
  check_ids(ids);
  if (ids.empty()) return;
  const int64_t S = config_.segment_size;
  // The window is held for the step and let go again once the position is
  // on a segment boundary (see session_state.h).
  state.hold_window();
  size_t done = 0;
  while (done < ids.size()) {
    const int64_t room = S - state.segment_offset();
    const size_t count = std::min(static_cast<size_t>(room), ids.size() - done);
    const bool last_piece = done + count == ids.size();
    Logits piece_mode = mode == Logits::kAll                    ? Logits::kAll
                        : (mode == Logits::kLast && last_piece) ? Logits::kLast
                                                                : Logits::kNone;
    float* out = mode == Logits::kAll ? logits.data() + done * config_.vocab_size : logits.data();
    run_piece(state, ids.subspan(done, count), piece_mode, out, stats);
    done += count;
  }
  state.release_window_if_empty();
}

void Model::run_piece(SessionState& state, std::span<const int32_t> ids, Logits mode, float* logits,
                      ForwardStats* stats) const {
  const Piece piece{&state, static_cast<int64_t>(ids.size())};
  forward(std::span<const Piece>(&piece, 1), ids, mode, logits, stats);
}

void Model::forward(std::span<const Piece> pieces, std::span<const int32_t> ids, Logits mode,
                    float* logits, ForwardStats* stats) const {
  Backend& be = *backend_;
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t hidden = config_.hidden_size, inter = config_.intermediate_size;
  const int64_t qs = config_.q_size(), kvs = config_.kv_size();

  Tensor x = be.allocate(n, hidden);
  Tensor h = be.allocate(n, hidden);
  Tensor qkv = be.allocate(n, qs + 2 * kvs);
  Tensor attn = be.allocate(n, qs);
  Tensor proj = be.allocate(n, hidden);
  Tensor gate_up = be.allocate(n, 2 * inter);
  Tensor act = be.allocate(n, inter);
  be.embed(ids.data(), n, *embedding_, x);

  // Each piece's first row in the pass.
  std::vector<int64_t> first_row(pieces.size());
  for (size_t p = 1; p < pieces.size(); ++p) first_row[p] = first_row[p - 1] + pieces[p - 1].count;

  const float eps = static_cast<float>(config_.rms_norm_eps);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    // The products run once over the rows of every piece; attention and
    // retrieval piece by piece, each against its own state.
    be.rms_norm(x, layer.input_norm, eps, h);
    be.linear(h, *layer.qkv, qkv);
    if (!layer.q_norm.empty()) {
      // Qwen3: each head's q and k normalised before RoPE, memory and window.
      Tensor q_part = qkv.col_range(0, qs), k_part = qkv.col_range(qs, kvs);
      be.rms_norm_heads(q_part, layer.q_norm, eps, q_part);
      be.rms_norm_heads(k_part, layer.k_norm, eps, k_part);
    }
    be.for_each_piece(static_cast<int64_t>(pieces.size()), [&](int64_t p) {
      const Piece& piece = pieces[static_cast<size_t>(p)];
      const int64_t row = first_row[static_cast<size_t>(p)];
      SessionState& state = *piece.state;
      LayerState& ls = state.layers()[l];
      const int64_t first = state.segment_offset();
      const Tensor rows = qkv.row_range(row, piece.count);
      Tensor k_rows = ls.keys.row_range(first, piece.count);
      Tensor v_rows = ls.values.row_range(first, piece.count);
      be.copy(rows.col_range(qs, kvs), k_rows);
      be.copy(rows.col_range(qs + kvs, kvs), v_rows);
      Tensor out = attn.row_range(row, piece.count);
      if (memory_enabled_) {
        infini_attention(be, shape_, rows.col_range(0, qs), layer.gate_logits, ls, first,
                         state.segments() > 0, out);
      } else {
        be.local_attention(rows.col_range(0, qs), ls.keys, ls.values, first, shape_, ls.rotated,
                           out);
      }
    });
    be.linear(attn, *layer.o, proj);
    be.add(x, proj);
    be.rms_norm(x, layer.post_norm, eps, h);
    be.linear(h, *layer.gate_up, gate_up);
    be.swiglu(gate_up.col_range(0, inter), gate_up.col_range(inter, inter), act);
    be.linear(act, *layer.down, proj);
    be.add(x, proj);
  }

  if (mode != Logits::kNone) {
    // kAll: every row (one piece); kLast: the last row of each piece.
    Tensor rows = x;
    if (mode == Logits::kLast) {
      rows = be.allocate(static_cast<int64_t>(pieces.size()), hidden);
      for (size_t p = 0; p < pieces.size(); ++p) {
        Tensor dst = rows.row_range(static_cast<int64_t>(p), 1);
        be.copy(x.row_range(first_row[p] + pieces[p].count - 1, 1), dst);
      }
    }
    Tensor normed = be.allocate(rows.rows(), hidden);
    be.rms_norm(rows, final_norm_, eps, normed);
    Tensor out = be.allocate(rows.rows(), config_.vocab_size);
    be.linear(normed, *lm_head_, out);
    be.download(out, logits);
  }

  for (const Piece& piece : pieces) {
    SessionState& state = *piece.state;
    state.advance(piece.count);
    if (state.segment_offset() != 0) continue;
    const auto fold_start = std::chrono::steady_clock::now();
    // With memory off nothing reads M and z: the fold is skipped, they stay 0.
    if (memory_enabled_) {
      for (LayerState& ls : state.layers()) {
        fold_segment(be, shape_, config_.memory_update, ls);
      }
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

std::vector<float> Model::decode(std::span<SessionState* const> states,
                                 std::span<const int32_t> ids) const {
  if (states.size() != ids.size()) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "decode: " + std::to_string(states.size()) + " states for " +
                          std::to_string(ids.size()) + " tokens (one token per state)");
  }
  check_ids(ids);
  std::set<const SessionState*> distinct;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i] == nullptr || !distinct.insert(states[i]).second) {
      throw EngineError(ErrorCode::kInvalidArgument,
                        "decode: state " + std::to_string(i) +
                            (states[i] == nullptr ? " is null" : " appears twice in the batch"));
    }
  }
  std::vector<float> logits(ids.size() * static_cast<size_t>(config_.vocab_size));
  if (ids.empty()) return logits;
  std::vector<Piece> pieces;
  pieces.reserve(states.size());
  for (SessionState* state : states) {
    state->hold_window();
    pieces.push_back(Piece{state, 1});
  }
  forward(pieces, ids, Logits::kLast, logits.data(), nullptr);
  for (SessionState* state : states) state->release_window_if_empty();
  return logits;
}

}  // namespace infini
