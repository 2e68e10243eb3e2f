#include "engine/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "engine/error.h"
#include "engine/sentencepiece_tokenizer.h"
#include "engine/tokenizer_json.h"

namespace infini {
namespace {

std::string read_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw EngineError(ErrorCode::kNotFound, "tokenizer file not found: " + path);
  }
  std::ifstream file(path, std::ios::binary);
  std::string bytes;
  bytes.resize(std::filesystem::file_size(path, ec));
  file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (ec || !file || file.peek() != std::char_traits<char>::eof()) {
    throw EngineError(ErrorCode::kCorruptData, "cannot read tokenizer file " + path);
  }
  return bytes;
}

// tokenizer.json is a JSON object; a serialized ModelProto starts with a field tag
// (0x0a: the pieces), never with '{' or whitespace.
bool looks_like_json(std::string_view bytes) {
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && bytes[first] == '{';
}

}  // namespace

Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::load(const std::string& path) {
  const std::string bytes = read_tokenizer_file(path);
  if (looks_like_json(bytes)) {
    // tokenizer_config.json sits next to tokenizer.json in a Hugging Face repository.
    const auto config = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    std::error_code ec;
    return load_tokenizer_json(bytes, path,
                               std::filesystem::is_regular_file(config, ec)
                                   ? std::optional<std::string>(config.string())
                                   : std::nullopt);
  }
  return SentencePieceTokenizer::from_serialized(bytes, path);
}

std::shared_ptr<const Tokenizer> Tokenizer::load_from_model_dir(const std::string& dir) {
  const std::filesystem::path root(dir);
  std::error_code ec;
  const bool has_json = std::filesystem::is_regular_file(root / "tokenizer.json", ec);
  const bool has_model = std::filesystem::is_regular_file(root / "tokenizer.model", ec);
  if (has_json) {
    try {
      return load((root / "tokenizer.json").string());
    } catch (const EngineError& e) {
      // Llama 2 / Mistral style files (Metaspace, byte fallback over SentencePiece
      // pieces) ship the same tokenizer as tokenizer.model, which is read instead.
      // A broken tokenizer.json (kCorruptData) is still an error.
      if (e.code() != ErrorCode::kUnsupported || !has_model) throw;
    }
  }
  if (has_model) return load((root / "tokenizer.model").string());
  throw EngineError(ErrorCode::kNotFound, "no tokenizer in model directory " + dir +
                                              ": expected tokenizer.json "
                                              "(Hugging Face) or tokenizer.model (SentencePiece)");
}

std::vector<Tokenizer::TemplatePart> Tokenizer::split_at_added_tokens(std::string_view text) const {
  return {TemplatePart{text, -1}};
}

}  // namespace infini
