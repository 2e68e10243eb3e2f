#include "engine/session_state.h"

#include <algorithm>
#include <string>

#include "engine/error.h"

namespace infini {

SessionState::SessionState(std::shared_ptr<Backend> backend, const ModelConfig& config)
    : backend_(std::move(backend)),
      segment_size_(config.segment_size),
      window_cols_(config.kv_size()) {
  layers_.reserve(static_cast<size_t>(config.num_layers));
  for (int64_t l = 0; l < config.num_layers; ++l) {
    LayerState layer;
    layer.memory = backend_->allocate(config.kv_size(), config.head_dim);
    layer.norm = backend_->allocate(config.num_kv_heads, config.head_dim);
    layers_.push_back(std::move(layer));  // the window comes with the first step
  }
}

SessionState SessionState::fork() const {
  SessionState copy;
  copy.backend_ = backend_;
  copy.segment_size_ = segment_size_;
  copy.window_cols_ = window_cols_;
  copy.tokens_ = tokens_;
  copy.segments_ = segments_;
  copy.layers_.reserve(layers_.size());
  for (const LayerState& layer : layers_) {
    LayerState c;
    for (auto [src, dst] : {std::pair{&layer.memory, &c.memory}, std::pair{&layer.norm, &c.norm},
                            std::pair{&layer.keys, &c.keys}, std::pair{&layer.values, &c.values},
                            std::pair{&layer.rotated.keys, &c.rotated.keys}}) {
      if (src->empty()) continue;  // a released window stays released
      *dst = backend_->allocate(src->rows(), src->cols());
      backend_->copy(*src, *dst);
    }
    c.rotated.rows = layer.rotated.rows;
    copy.layers_.push_back(std::move(c));
  }
  return copy;
}

int64_t SessionState::memory_bytes() const {
  int64_t bytes = 0;
  for (const LayerState& layer : layers_) bytes += layer.memory.bytes() + layer.norm.bytes();
  return bytes;
}

int64_t SessionState::window_bytes() const {
  return static_cast<int64_t>(layers_.size()) * 2 * segment_size_ * window_cols_ *
         static_cast<int64_t>(sizeof(float));
}

bool SessionState::window_held() const { return !layers_.empty() && !layers_[0].keys.empty(); }

void SessionState::hold_window() {
  for (LayerState& layer : layers_) {
    if (layer.keys.empty()) layer.keys = backend_->allocate(segment_size_, window_cols_);
    if (layer.values.empty()) layer.values = backend_->allocate(segment_size_, window_cols_);
  }
}

void SessionState::release_window_if_empty() {
  if (segment_offset() != 0) return;
  for (LayerState& layer : layers_) {
    layer.keys = Tensor();
    layer.values = Tensor();
    layer.rotated = RotatedKeys();
  }
}

std::vector<float> SessionState::to_host() const {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(host_floats() + 2));
  const size_t window = static_cast<size_t>(segment_size_ * window_cols_);
  // Only the window's first segment_offset() rows are the state: the rest
  // are a past segment's (never read again) or nothing (a window allocated
  // anew), written as zeros so that equal states give equal floats.
  const size_t live = static_cast<size_t>(segment_offset() * window_cols_);
  for (const LayerState& layer : layers_) {
    for (const Tensor* t : {&layer.memory, &layer.norm, &layer.keys, &layer.values}) {
      const size_t at = out.size();
      const bool is_window = t == &layer.keys || t == &layer.values;
      if (t->empty()) {
        out.resize(at + window, 0.0f);  // a released window: nothing in it
        continue;
      }
      out.resize(at + static_cast<size_t>(t->rows() * t->cols()));
      backend_->download(*t, out.data() + at);
      if (is_window) std::fill(out.begin() + static_cast<std::ptrdiff_t>(at + live), out.end(), 0.0f);
    }
  }
  out.push_back(static_cast<float>(tokens_));
  out.push_back(static_cast<float>(segments_));
  return out;
}

int64_t SessionState::host_floats() const {
  return step_bytes() / static_cast<int64_t>(sizeof(float));
}

void SessionState::restore(const std::vector<float>& tensors, int64_t tokens, int64_t segments) {
  const int64_t expected = host_floats();
  if (static_cast<int64_t>(tensors.size()) != expected) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "session state holds " + std::to_string(expected) +
                          " floats for this model, the restored state has " +
                          std::to_string(tensors.size()));
  }
  // The model folds a segment as soon as its window fills.
  if (tokens < 0 || segments != tokens / segment_size_) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "restored position is impossible: " + std::to_string(tokens) + " tokens, " +
                          std::to_string(segments) + " segments of " +
                          std::to_string(segment_size_));
  }
  // On a segment boundary the window holds nothing the model reads again:
  // it is not kept (an older snapshot may carry the last segment's keys).
  const bool window = tokens % segment_size_ != 0;
  // Upload everything before touching the state, so that a failing upload
  // leaves it as it was; then move the uploads in.
  std::vector<Tensor> uploaded;
  uploaded.reserve(layers_.size() * 4);
  const float* at = tensors.data();
  for (const LayerState& layer : layers_) {
    for (const Tensor* t : {&layer.memory, &layer.norm}) {
      uploaded.push_back(backend_->upload(at, t->rows(), t->cols()));
      at += t->rows() * t->cols();
    }
    for (int i = 0; i < 2; ++i) {
      if (window) uploaded.push_back(backend_->upload(at, segment_size_, window_cols_));
      at += segment_size_ * window_cols_;
    }
  }
  auto next = uploaded.begin();
  for (LayerState& layer : layers_) {
    layer.memory = std::move(*next++);
    layer.norm = std::move(*next++);
    layer.keys = window ? std::move(*next++) : Tensor();
    layer.values = window ? std::move(*next++) : Tensor();
    layer.rotated = RotatedKeys();  // rebuilt from the keys by the next step
  }
  tokens_ = tokens;
  segments_ = segments;
}

}  // namespace infini
