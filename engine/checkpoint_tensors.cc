#include "engine/checkpoint_tensors.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/error.h"

namespace infini {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw EngineError(ErrorCode::kCorruptData, path + ": " + what);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw EngineError(ErrorCode::kNotFound, path + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw EngineError(ErrorCode::kInternal, path + ": error reading");
  return text.str();
}

// The index's "weight_map", tensor name -> shard file name, checked: an
// object of strings, no name twice (nlohmann would keep the last silently),
// shard names plain file names inside the directory.
std::map<std::string, std::string> read_weight_map(const std::string& path) {
  const std::string text = read_text(path);
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t reject_duplicates = [&](int depth, json::parse_event_t event,
                                                        json& parsed) {
    if (event == json::parse_event_t::key && depth == 2 && parsed.is_string()) {
      // Keys of the metadata object are at depth 2 too; they are few and
      // never tensor names, so a clash there is reported the same way.
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text, reject_duplicates);
  } catch (const json::exception& e) {
    corrupt(path, std::string("invalid JSON: ") + e.what());
  }
  if (!root.is_object()) corrupt(path, "the index must be a JSON object");
  auto map_it = root.find("weight_map");
  if (map_it == root.end()) corrupt(path, "key \"weight_map\" is missing");
  if (!map_it->is_object()) corrupt(path, "key \"weight_map\" must be an object");
  if (map_it->empty()) corrupt(path, "key \"weight_map\" lists no tensors");
  if (!duplicate.empty())
    corrupt(path, "\"weight_map\" names \"" + duplicate + "\" more than once");
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string()) {
      corrupt(path, "\"weight_map\" entry \"" + name + "\" must be a shard file name (a string)");
    }
    const std::string file = shard.get<std::string>();
    const fs::path as_path(file);
    if (file.empty() || as_path.has_parent_path() || as_path.is_absolute() || file == "." ||
        file == "..") {
      corrupt(path, "\"weight_map\" entry \"" + name + "\" names shard \"" + file +
                        "\", which is not a file name inside the checkpoint directory");
    }
    out.emplace(name, file);
  }
  return out;
}

}  // namespace

void CheckpointTensors::add_file(std::unique_ptr<SafetensorsFile> file) {
  const size_t index = files_.size();
  for (const std::string& name : file->names()) {
    auto [it, inserted] = tensors_.emplace(name, Entry{&file->tensor(name), index});
    if (!inserted) {
      corrupt(file->path(),
              "tensor \"" + name + "\" is also in " + files_[it->second.file]->path());
    }
  }
  files_.push_back(std::move(file));
}

std::unique_ptr<CheckpointTensors> CheckpointTensors::open(const std::string& dir) {
  const std::string single = (fs::path(dir) / kSingleWeightsFile).string();
  const std::string index_path = (fs::path(dir) / kWeightsIndexFile).string();
  std::unique_ptr<CheckpointTensors> out(new CheckpointTensors());
  std::error_code ec;
  const bool has_single = fs::exists(single, ec), has_index = fs::exists(index_path, ec);
  if (has_single && has_index) {
    // Transformers would take the single file; a stale one beside fresh
    // shards (or the reverse) would then load the wrong weights silently.
    throw EngineError(ErrorCode::kInvalidArgument,
                      dir + ": both " + kSingleWeightsFile + " and " + kWeightsIndexFile +
                          " are there; remove the one that is not this model's weights");
  }
  if (has_single) {
    out->origin_ = single;
    out->add_file(SafetensorsFile::open(single));
    return out;
  }
  if (!has_index) {
    throw EngineError(ErrorCode::kNotFound, dir + ": no weights: neither " + kSingleWeightsFile +
                                                " nor " + kWeightsIndexFile + " is there");
  }
  out->origin_ = index_path;
  const std::map<std::string, std::string> weight_map = read_weight_map(index_path);

  // Shards in the order of their first tensor's name; each opened once.
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : weight_map) by_shard[shard].push_back(name);
  // A weights file the index does not name (a shard left from another
  // conversion, a file copied in by hand) would be ignored silently.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() == ".safetensors" && by_shard.count(file) == 0) {
      corrupt(index_path, "\"" + file +
                              "\" is in the checkpoint directory but the index maps no "
                              "tensor to it; remove it or list its tensors in \"weight_map\"");
    }
  }
  for (const auto& [shard, names] : by_shard) {
    const std::string shard_path = (fs::path(dir) / shard).string();
    if (!fs::exists(shard_path, ec)) {
      throw EngineError(ErrorCode::kNotFound,
                        index_path + ": shard \"" + shard + "\" (holding \"" + names.front() +
                            "\" and " + std::to_string(names.size() - 1) +
                            " more tensors) is missing: " + shard_path + " does not exist");
    }
    auto file = SafetensorsFile::open(shard_path);
    for (const std::string& name : names) {
      if (!file->has(name)) {
        corrupt(shard_path, "tensor \"" + name + "\" is listed for this shard in " + index_path +
                                " but the shard does not have it");
      }
    }
    for (const std::string& name : file->names()) {
      auto it = weight_map.find(name);
      if (it == weight_map.end()) {
        corrupt(shard_path, "tensor \"" + name + "\" is in this shard but not in " + index_path);
      }
      if (it->second != shard) {
        corrupt(shard_path, "tensor \"" + name + "\" is in this shard but " + index_path +
                                " maps it to \"" + it->second + "\" (a tensor in two shards?)");
      }
    }
    out->add_file(std::move(file));
  }
  return out;
}

const TensorView* CheckpointTensors::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.view;
}

const std::string& CheckpointTensors::file_of(const std::string& name) const {
  static const std::string kNone;
  auto it = tensors_.find(name);
  return it == tensors_.end() ? kNone : files_[it->second.file]->path();
}

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, entry] : tensors_) out.push_back(name);
  return out;
}

std::vector<std::string> CheckpointTensors::files() const {
  std::vector<std::string> out;
  for (const auto& file : files_) out.push_back(file->path());
  return out;
}

void CheckpointTensors::release(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return;
  files_[it->second.file]->release(*it->second.view);
}

}  // namespace infini
