// The Infini-Transformer's forward pass over a session state, device-neutral.
// Weights are loaded once and shared read-only by every session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "engine/session_state.h"

namespace infini {

struct LoadOptions {
  std::string backend = "cpu";
  ComputeDType dtype = ComputeDType::kBF16;
  // Gate value sigmoid(beta) in (0, 1) for checkpoints without `memory_gate`
  // tensors (plain Hugging Face weights: the memory is then untrained).
  // Ignored when the checkpoint has gates, unless `force_gate` is set.
  // Without it such a checkpoint runs with memory off: every token attends
  // within its own segment only (local attention, A = A_dot), and nothing
  // is folded into memory.
  std::optional<float> gate;
  bool force_gate = false;
  // Overrides the segment length S of config.json ("segment_size"), or the
  // default (ModelConfig::kDefaultSegmentSize) of a checkpoint without one.
  std::optional<int64_t> segment_size;
};

class WeightReader;  // model.cc: checked, tracked reads of the checkpoint's tensors

// What one call did, for metrics.
struct ForwardStats {
  int64_t segments_folded = 0;
  double fold_seconds = 0.0;  // time spent folding segments into memory
};

class Model {
 public:
  // Loads config.json and the weights (model.safetensors, or the shards of
  // model.safetensors.index.json) from `dir`. Every tensor of the checkpoint
  // must be one the architecture uses: any other is an error naming it and
  // its file, never silently ignored.
  static std::shared_ptr<const Model> load(const std::string& dir, const LoadOptions& options);
  // Builds a model from tensors looked up by name (nullptr when absent).
  // `options.segment_size` is not applied here: `config` is taken as is.
  using TensorLookup = std::function<const TensorView*(const std::string& name)>;
  static std::shared_ptr<const Model> build(const ModelConfig& config, const TensorLookup& lookup,
                                            const LoadOptions& options, const std::string& origin);
  ~Model();

  const ModelConfig& config() const { return config_; }
  Backend& backend() const { return *backend_; }
  int64_t weight_bytes() const { return weight_bytes_; }
  // False when the checkpoint has no memory gates and no gate was given:
  // local attention only (see LoadOptions::gate).
  bool memory_enabled() const { return memory_enabled_; }

  SessionState new_session() const;

  // Reads tokens into the state (memory and window) without computing logits.
  void ingest(SessionState& state, std::span<const int32_t> ids,
              ForwardStats* stats = nullptr) const;
  // Reads tokens and returns the logits of every one of them, [n x vocab].
  std::vector<float> logits_all(SessionState& state, std::span<const int32_t> ids) const;
  // Reads tokens (at least one) and returns the logits of the last, [vocab].
  std::vector<float> logits_last(SessionState& state, std::span<const int32_t> ids) const;
  // One decode step of a batch: reads ids[i] into *states[i] for every i and
  // returns the logits of each, [B x vocab] row by row. The products (q/k/v,
  // o, MLP, LM head) run once over all B rows, so the weights are read once
  // per step instead of once per sequence; attention, retrieval and folds run
  // per state. Each sequence gets the logits logits_last(*states[i], {ids[i]})
  // gives it alone: bitwise for a batch of one, and within the rounding of
  // products over more rows otherwise (tested to the tolerance of chunked
  // feeding). The states must be distinct; a bad batch (counts, an id out
  // of range, a state twice) is refused before any state changes.
  std::vector<float> decode(std::span<SessionState* const> states,
                            std::span<const int32_t> ids) const;

 private:
  struct Layer;
  enum class Logits { kNone, kLast, kAll };
  Model() = default;
  // Uploads every weight `reader` yields for `config` (model.cc).
  static std::shared_ptr<const Model> assemble(const ModelConfig& config, WeightReader& reader,
                                               const LoadOptions& options);
  void run(SessionState& state, std::span<const int32_t> ids, Logits mode,
           std::vector<float>& logits, ForwardStats* stats) const;
  // Tokens that stay inside one segment.
  void run_piece(SessionState& state, std::span<const int32_t> ids, Logits mode, float* logits,
                 ForwardStats* stats) const;
  // `count` consecutive rows of a forward pass that belong to one state and
  // stay inside its segment.
  struct Piece {
    SessionState* state;
    int64_t count;
  };
  // One pass over the rows of several pieces (ids: theirs, in order); kLast
  // gives the last row's logits of each piece, kAll every row's (one piece).
  void forward(std::span<const Piece> pieces, std::span<const int32_t> ids, Logits mode,
               float* logits, ForwardStats* stats) const;
  void check_ids(std::span<const int32_t> ids) const;  // throws kOutOfRange

  ModelConfig config_;
  AttentionShape shape_;
  std::shared_ptr<Backend> backend_;
  // [vocab, hidden] in the compute dtype; the lm_head is the same object when tied.
  std::shared_ptr<LinearWeight> embedding_;
  Tensor final_norm_;  // [1, hidden]
  std::shared_ptr<LinearWeight> lm_head_;
  std::vector<Layer> layers_;
  int64_t weight_bytes_ = 0;
  bool memory_enabled_ = true;
};

}  // namespace infini
