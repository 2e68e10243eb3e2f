#include "engine/session_state.h"

#include <string>

#include "engine/error.h"

namespace infini {

SessionState::SessionState(std::shared_ptr<Backend> backend, const ModelConfig& config)
    : backend_(std::move(backend)), segment_size_(config.segment_size) {
  layers_.reserve(static_cast<size_t>(config.num_layers));
  for (int64_t l = 0; l < config.num_layers; ++l) {
    LayerState layer;
    layer.memory = backend_->allocate(config.kv_size(), config.head_dim);
    layer.norm = backend_->allocate(config.num_kv_heads, config.head_dim);
    layer.keys = backend_->allocate(config.segment_size, config.kv_size());
    layer.values = backend_->allocate(config.segment_size, config.kv_size());
    layers_.push_back(std::move(layer));
  }
}

SessionState SessionState::fork() const {
  SessionState copy;
  copy.backend_ = backend_;
  copy.segment_size_ = segment_size_;
  copy.tokens_ = tokens_;
  copy.segments_ = segments_;
  copy.layers_.reserve(layers_.size());
  for (const LayerState& layer : layers_) {
    LayerState c;
    for (auto [src, dst] : {std::pair{&layer.memory, &c.memory}, std::pair{&layer.norm, &c.norm},
                            std::pair{&layer.keys, &c.keys}, std::pair{&layer.values, &c.values}}) {
      *dst = backend_->allocate(src->rows(), src->cols());
      backend_->copy(*src, *dst);
    }
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
  int64_t bytes = 0;
  for (const LayerState& layer : layers_) bytes += layer.keys.bytes() + layer.values.bytes();
  return bytes;
}

std::vector<float> SessionState::to_host() const {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(state_bytes() / 4 + 2));
  for (const LayerState& layer : layers_) {
    for (const Tensor* t : {&layer.memory, &layer.norm, &layer.keys, &layer.values}) {
      const size_t at = out.size();
      out.resize(at + static_cast<size_t>(t->rows() * t->cols()));
      backend_->download(*t, out.data() + at);
    }
  }
  out.push_back(static_cast<float>(tokens_));
  out.push_back(static_cast<float>(segments_));
  return out;
}

int64_t SessionState::host_floats() const {
  return state_bytes() / static_cast<int64_t>(sizeof(float));
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
  // Upload everything before touching the state, so that a failing upload
  // leaves it as it was; then copy into the existing tensors.
  std::vector<Tensor> uploaded;
  uploaded.reserve(layers_.size() * 4);
  const float* at = tensors.data();
  for (const LayerState& layer : layers_) {
    for (const Tensor* t : {&layer.memory, &layer.norm, &layer.keys, &layer.values}) {
      uploaded.push_back(backend_->upload(at, t->rows(), t->cols()));
      at += t->rows() * t->cols();
    }
  }
  auto next = uploaded.begin();
  for (LayerState& layer : layers_) {
    for (Tensor* t : {&layer.memory, &layer.norm, &layer.keys, &layer.values}) {
      backend_->copy(*next++, *t);
    }
  }
  tokens_ = tokens;
  segments_ = segments;
}

}  // namespace infini
