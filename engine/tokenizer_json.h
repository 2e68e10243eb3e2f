// Reads a Hugging Face tokenizer.json (and, when given, its tokenizer_config.json)
// into a BpeTokenizer. Every error names the file and the JSON key.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/tokenizer.h"

namespace infini {

// `json` is the content of `json_path`; `config_path` is tokenizer_config.json.
std::shared_ptr<const Tokenizer> load_tokenizer_json(const std::string& json,
                                                     const std::string& json_path,
                                                     const std::optional<std::string>& config_path);

}  // namespace infini
