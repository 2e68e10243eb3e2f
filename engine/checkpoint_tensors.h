// Every tensor of a checkpoint directory, memory-mapped: either one
// `model.safetensors`, or the shards that `model.safetensors.index.json`
// names (Hugging Face's layout for models over a few GB: a "weight_map" from
// tensor name to shard file).
//
// The index and the shards are checked against each other before any tensor
// is handed out: every shard the index names exists, every tensor the index
// lists is in its shard, every tensor of a shard is listed for that shard (so
// a name in two shards is refused), and shard names stay inside the
// directory. Each error names the file and the tensor or key. A directory
// with both a single file and an index is refused (Transformers would take
// the single file, so a stale one would load silently).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/safetensors.h"

namespace infini {

inline constexpr const char* kSingleWeightsFile = "model.safetensors";
inline constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";

class CheckpointTensors {
 public:
  // Throws EngineError: kNotFound (no weights, a missing shard), kCorruptData
  // (a malformed index or shard, index and shards disagreeing).
  static std::unique_ptr<CheckpointTensors> open(const std::string& dir);

  // nullptr when the checkpoint has no such tensor.
  const TensorView* find(const std::string& name) const;
  // The file holding `name` (a shard, or model.safetensors); "" when absent.
  const std::string& file_of(const std::string& name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // What errors name for the checkpoint as a whole: the index, or the single file.
  const std::string& origin() const { return origin_; }
  // The safetensors files, in index order (one for a single file).
  std::vector<std::string> files() const;

  // Tells the kernel the mapped pages of `name` are no longer needed: they
  // leave this process's resident set (they stay in the page cache), so a
  // model converted tensor by tensor never holds the whole file resident on
  // top of its own copy of the weights.
  void release(const std::string& name) const;

 private:
  struct Entry {
    const TensorView* view;
    size_t file;
  };
  CheckpointTensors() = default;
  void add_file(std::unique_ptr<SafetensorsFile> file);

  std::string origin_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> tensors_;
};

}  // namespace infini
