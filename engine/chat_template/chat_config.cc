#include "engine/chat_template/chat_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"

namespace infini {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<nlohmann::json> read_json(const fs::path& path) {
  const auto text = read_file(path);
  if (!text) return std::nullopt;
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(ErrorCode::kCorruptData, path.string() + ": not valid JSON: " + e.what());
  }
}

[[noreturn]] void bad_key(const fs::path& file, const std::string& key, const std::string& what) {
  throw EngineError(ErrorCode::kInvalidArgument, file.string() + ", key " + key + ": " + what);
}

// A token is written as "<s>", as {"content": "<s>", ...} (AddedToken) or null.
std::optional<std::string> token_text(const nlohmann::json& value, const fs::path& file,
                                      const std::string& key) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  bad_key(file, key, "expected a string, an object with a string \"content\", or null");
}

std::string template_source(const nlohmann::json& value, const fs::path& file) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    // Several named templates (e.g. "default", "tool_use", "rag"): the default one.
    std::string names;
    for (const auto& entry : value) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("template") || !entry["template"].is_string()) {
        bad_key(file, "chat_template",
                "a list entry is not {\"name\": string, \"template\": string}");
      }
      if (entry["name"] == "default") return entry["template"].get<std::string>();
      names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
    }
    bad_key(file, "chat_template", "no template named \"default\" among: " + names);
  }
  bad_key(file, "chat_template", "expected a string or a list of {name, template}");
}

void read_tokenizer_config(const fs::path& file, const nlohmann::json& config, ChatConfig& out,
                           std::optional<std::string>& source) {
  if (!config.is_object()) bad_key(file, "(top level)", "expected an object");
  // transformers' special_tokens_map: what apply_chat_template passes the template.
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    if (!config.contains(key)) continue;
    if (const auto text = token_text(config[key], file, key)) out.special_tokens[key] = *text;
  }
  if (out.special_tokens.count("bos_token")) out.bos_token = out.special_tokens["bos_token"];
  if (out.special_tokens.count("eos_token")) out.eos_token = out.special_tokens["eos_token"];
  if (config.contains("added_tokens_decoder")) {
    const auto& decoder = config["added_tokens_decoder"];
    if (!decoder.is_object()) bad_key(file, "added_tokens_decoder", "expected an object");
    for (const auto& [id_text, token] : decoder.items()) {
      const std::string key = "added_tokens_decoder." + id_text;
      int32_t id = -1;
      try {
        size_t used = 0;
        id = static_cast<int32_t>(std::stol(id_text, &used));
        if (used != id_text.size() || id < 0) throw std::invalid_argument(id_text);
      } catch (const std::exception&) {
        bad_key(file, key, "the key is not a token id");
      }
      const auto content = token_text(token, file, key);
      if (!content) bad_key(file, key, "the token has no content");
      if (token.is_object() && token.value("special", false))
        out.added_special_tokens[*content] = id;
    }
  }
  if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    source = template_source(config["chat_template"], file);
  }
}

}  // namespace

ChatConfig ChatConfig::load(const std::string& model_dir) {
  ChatConfig out;
  const fs::path dir(model_dir);
  std::optional<std::string> source;
  std::string origin;
  const fs::path config_file = dir / "tokenizer_config.json";
  if (const auto config = read_json(config_file)) {
    read_tokenizer_config(config_file, *config, out, source);
    origin = config_file.string() + ", key chat_template";
  }
  // transformers >= 4.43 saves the template beside the config, and prefers it.
  const fs::path jinja_file = dir / "chat_template.jinja";
  if (auto jinja = read_file(jinja_file)) {
    source = std::move(jinja);
    origin = jinja_file.string();
  }
  if (source) out.chat_template.emplace(*source, origin);

  const fs::path generation_file = dir / "generation_config.json";
  if (const auto generation = read_json(generation_file)) {
    if (generation->is_object() && generation->contains("eos_token_id")) {
      const auto& eos = (*generation)["eos_token_id"];
      const auto add = [&](const nlohmann::json& id) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0) {
          bad_key(generation_file, "eos_token_id", "expected a token id or a list of token ids");
        }
        out.generation_eos_ids.push_back(id.get<int32_t>());
      };
      if (eos.is_array()) {
        for (const auto& id : eos) add(id);
      } else if (!eos.is_null()) {
        add(eos);
      }
    }
  }
  return out;
}

}  // namespace infini
