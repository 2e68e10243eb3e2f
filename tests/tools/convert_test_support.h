// Test helper for converted checkpoints: their tensors read through
// model.safetensors.index.json, as a lookup for Model::build, independent of
// the engine's own sharded loader (so a bug there cannot hide one here).
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/model.h"
#include "engine/safetensors.h"

namespace infini::testing {

class IndexedWeights {
 public:
  explicit IndexedWeights(const std::filesystem::path& dir) {
    std::ifstream in(dir / "model.safetensors.index.json");
    const nlohmann::json index = nlohmann::json::parse(in);
    for (const auto& [name, file] : index["weight_map"].items()) {
      const std::string f = file.get<std::string>();
      if (!files_.count(f)) files_[f] = SafetensorsFile::open((dir / f).string());
      file_of_[name] = f;
    }
  }
  Model::TensorLookup lookup() const {
    return [this](const std::string& name) -> const TensorView* {
      auto it = file_of_.find(name);
      return it == file_of_.end() ? nullptr : &files_.at(it->second)->tensor(name);
    };
  }

 private:
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::string> file_of_;
};

}  // namespace infini::testing
