#include "engine/tokenizer_json.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "engine/bpe_tokenizer.h"
#include "engine/byte_level.h"
#include "engine/error.h"

namespace infini {
namespace {

using nlohmann::json;

// Largest id accepted: far above any real vocabulary, small enough that a lying
// file cannot make us allocate gigabytes for the id table.
constexpr int64_t kMaxTokenId = 16 * 1024 * 1024;

// Reads one file; every error names it and the key being read.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(ErrorCode code, const std::string& key, const std::string& what) const {
    throw EngineError(code, path_ + ": " + key + ": " + what);
  }
  [[noreturn]] void unsupported(const std::string& key, const std::string& what) const {
    fail(ErrorCode::kUnsupported, key, what);
  }
  [[noreturn]] void corrupt(const std::string& key, const std::string& what) const {
    fail(ErrorCode::kCorruptData, key, what);
  }

  json parse(const std::string& text) const {
    try {
      return json::parse(text);
    } catch (const json::parse_error& e) {
      throw EngineError(ErrorCode::kCorruptData,
                        path_ + ": not valid JSON (truncated or corrupt) at byte " +
                            std::to_string(e.byte) + ": " + e.what());
    }
  }

  const json& member(const json& object, const std::string& key, const std::string& name) const {
    if (!object.is_object()) corrupt(key, "expected an object");
    const auto it = object.find(name);
    if (it == object.end()) corrupt(key + "." + name, "missing");
    return *it;
  }
  std::string string(const json& object, const std::string& key, const std::string& name) const {
    const json& value = member(object, key, name);
    if (!value.is_string()) corrupt(key + "." + name, "expected a string");
    return value.get<std::string>();
  }
  bool flag(const json& object, const std::string& key, const std::string& name,
            bool fallback) const {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) corrupt(key + "." + name, "expected true or false");
    return it->get<bool>();
  }
  int32_t id(const json& value, const std::string& key) const {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() >= kMaxTokenId) {
      corrupt(key, "expected a token id (an integer from 0 to " + std::to_string(kMaxTokenId - 1) +
                       "), got " + value.dump());
    }
    return static_cast<int32_t>(value.get<int64_t>());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string child(const std::string& key, const std::string& name, size_t index) {
  return key + "." + name + "[" + std::to_string(index) + "]";
}

// ---- normalizer ----

std::unique_ptr<Normalizer> read_normalizer(const Reader& r, const json& node,
                                            const std::string& key) {
  const std::string type = r.string(node, key, "type");
  if (type == "NFC") return make_unicode_normalizer(UnicodeForm::kNfc);
  if (type == "NFD") return make_unicode_normalizer(UnicodeForm::kNfd);
  if (type == "NFKC") return make_unicode_normalizer(UnicodeForm::kNfkc);
  if (type == "NFKD") return make_unicode_normalizer(UnicodeForm::kNfkd);
  if (type == "Lowercase") return make_lowercase_normalizer();
  if (type == "Sequence") {
    const json& list = r.member(node, key, "normalizers");
    if (!list.is_array()) r.corrupt(key + ".normalizers", "expected an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      parts.push_back(read_normalizer(r, list[i], child(key, "normalizers", i)));
    }
    return make_normalizer_sequence(std::move(parts));
  }
  r.unsupported(key + ".type", "normalizer '" + type +
                                   "' is not supported (NFC, NFD, NFKC, NFKD, Lowercase, "
                                   "Sequence)");
}

// ---- pre-tokenizer ----

std::string escape_regex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::unique_ptr<PreTokenizer> read_pre_tokenizer(const Reader& r, const json& node,
                                                 const std::string& key, bool& byte_level) {
  const std::string type = r.string(node, key, "type");
  if (type == "Sequence") {
    const json& list = r.member(node, key, "pretokenizers");
    if (!list.is_array()) r.corrupt(key + ".pretokenizers", "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> stages;
    for (size_t i = 0; i < list.size(); ++i) {
      stages.push_back(read_pre_tokenizer(r, list[i], child(key, "pretokenizers", i), byte_level));
    }
    return make_pre_tokenizer_sequence(std::move(stages));
  }
  if (type == "Split") {
    const json& pattern = r.member(node, key, "pattern");
    std::string regex;
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
      regex = pattern["Regex"].get<std::string>();
    } else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
      regex = escape_regex(pattern["String"].get<std::string>());
    } else {
      r.corrupt(key + ".pattern", "expected {\"Regex\": \"...\"} or {\"String\": \"...\"}");
    }
    const std::string behavior = r.string(node, key, "behavior");
    SplitBehavior split;
    if (behavior == "Isolated") {
      split = SplitBehavior::kIsolated;
    } else if (behavior == "Removed") {
      split = SplitBehavior::kRemoved;
    } else {
      r.unsupported(key + ".behavior", "'" + behavior + "' is not supported (Isolated, Removed)");
    }
    if (r.flag(node, key, "invert", false)) r.unsupported(key + ".invert", "true is not supported");
    return make_regex_split(regex, split, r.path() + ": " + key + ".pattern");
  }
  if (type == "ByteLevel") {
    byte_level = true;
    if (r.flag(node, key, "add_prefix_space", false)) {
      r.unsupported(key + ".add_prefix_space", "true is not supported");
    }
    if (r.flag(node, key, "use_regex", true)) return make_gpt2_split(r.path() + ": " + key);
    return make_identity_split();
  }
  if (type == "Digits") return make_digits_split(r.flag(node, key, "individual_digits", false));
  r.unsupported(key + ".type", "pre-tokenizer '" + type +
                                   "' is not supported (Split, ByteLevel, Digits, Sequence)");
}

// ---- decoder ----

void read_decoder(const Reader& r, const json& node, const std::string& key,
                  std::vector<DecoderStep>& steps) {
  const std::string type = r.string(node, key, "type");
  DecoderStep step;
  if (type == "Sequence") {
    const json& list = r.member(node, key, "decoders");
    if (!list.is_array()) r.corrupt(key + ".decoders", "expected an array");
    for (size_t i = 0; i < list.size(); ++i)
      read_decoder(r, list[i], child(key, "decoders", i), steps);
    return;
  } else if (type == "ByteLevel") {
    step.kind = DecoderStep::Kind::kByteLevel;
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Kind::kFuse;
  } else if (type == "Replace") {
    step.kind = DecoderStep::Kind::kReplace;
    const json& pattern = r.member(node, key, "pattern");
    if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string()) {
      r.unsupported(key + ".pattern", "only {\"String\": \"...\"} patterns are supported");
    }
    step.pattern = pattern["String"].get<std::string>();
    step.content = r.string(node, key, "content");
  } else if (type == "Strip") {
    step.kind = DecoderStep::Kind::kStrip;
    step.pattern = r.string(node, key, "content");
    const json& start = r.member(node, key, "start");
    const json& stop = r.member(node, key, "stop");
    if (!start.is_number_unsigned() || !stop.is_number_unsigned()) {
      r.corrupt(key, "start and stop must be non-negative integers");
    }
    step.start = start.get<size_t>();
    step.stop = stop.get<size_t>();
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::Kind::kMetaspace;
    step.pattern = r.string(node, key, "replacement");
    const auto scheme = node.find("prepend_scheme");
    step.prepend = scheme != node.end() && scheme->is_string()
                       ? scheme->get<std::string>() != "never"
                       : r.flag(node, key, "add_prefix_space", true);
  } else {
    r.unsupported(key + ".type", "decoder '" + type +
                                     "' is not supported (ByteLevel, ByteFallback, Fuse, Replace, "
                                     "Strip, Metaspace, Sequence)");
  }
  steps.push_back(std::move(step));
}

// ---- model ----

struct ModelParts {
  std::unordered_map<std::string, int32_t> vocab;  // as written in the file
  std::vector<BpeModel::Merge> merges;
  BpeModel::Options options;
};

std::pair<std::string, std::string> merge_pair(const Reader& r, const json& entry,
                                               const std::string& key) {
  if (entry.is_string()) {
    const std::string text = entry.get<std::string>();
    const size_t space = text.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 >= text.size() ||
        text.find(' ', space + 1) != std::string::npos) {
      r.corrupt(key, "expected \"left right\", got \"" + text + "\"");
    }
    return {text.substr(0, space), text.substr(space + 1)};
  }
  if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
    return {entry[0].get<std::string>(), entry[1].get<std::string>()};
  }
  r.corrupt(key, "expected \"left right\" or [\"left\", \"right\"], got " + entry.dump());
}

ModelParts read_model(const Reader& r, const json& root) {
  const json& model = r.member(root, "(root)", "model");
  const std::string type = r.string(model, "model", "type");
  if (type != "BPE") {
    r.unsupported("model.type", "model '" + type + "' is not supported (BPE only)");
  }
  ModelParts parts;
  const json& vocab = r.member(model, "model", "vocab");
  if (!vocab.is_object()) r.corrupt("model.vocab", "expected an object of token: id");
  parts.vocab.reserve(vocab.size());
  std::unordered_map<int32_t, const std::string*> token_of_id;
  token_of_id.reserve(vocab.size());
  for (const auto& [token, value] : vocab.items()) {
    // The key is spelled out only for an error: 128K entries in Llama 3.
    const int32_t id =
        value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() < kMaxTokenId
            ? static_cast<int32_t>(value.get<int64_t>())
            : r.id(value, "model.vocab[\"" + token + "\"]");
    if (const auto [it, fresh] = token_of_id.emplace(id, &token); !fresh) {
      r.corrupt("model.vocab", "id " + std::to_string(id) + " is given to both \"" + *it->second +
                                   "\" and \"" + token + "\"");
    }
    parts.vocab.emplace(token, id);
  }
  const json& merges = r.member(model, "model", "merges");
  if (!merges.is_array()) r.corrupt("model.merges", "expected an array");
  parts.merges.reserve(merges.size());
  auto lookup = [&](const std::string& token, const std::string& key, const char* role) {
    const auto it = parts.vocab.find(token);
    if (it == parts.vocab.end()) {
      r.corrupt(key, std::string(role) + " \"" + token + "\" is not in model.vocab");
    }
    return it->second;
  };
  std::string merged;
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& entry = merges[i];
    std::string_view left, right;
    if (entry.is_string()) {  // "left right"
      const std::string& text = entry.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space != std::string::npos && space > 0 && space + 1 < text.size() &&
          text.find(' ', space + 1) == std::string::npos) {
        left = std::string_view(text).substr(0, space);
        right = std::string_view(text).substr(space + 1);
      }
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      left = entry[0].get_ref<const std::string&>();
      right = entry[1].get_ref<const std::string&>();
    }
    const std::string key_if_bad = left.empty() ? "model.merges[" + std::to_string(i) + "]" : "";
    if (left.empty()) merge_pair(r, entry, key_if_bad);  // throws, naming the entry
    merged.assign(left).append(right);
    const auto l = parts.vocab.find(std::string(left));
    const auto rr = parts.vocab.find(std::string(right));
    const auto m = parts.vocab.find(merged);
    if (l == parts.vocab.end() || rr == parts.vocab.end() || m == parts.vocab.end()) {
      const std::string key = "model.merges[" + std::to_string(i) + "]";
      lookup(std::string(left), key, "token");
      lookup(std::string(right), key, "token");
      lookup(merged, key, "merged token");
    }
    parts.merges.push_back({l->second, rr->second, m->second});
  }
  BpeModel::Options& o = parts.options;
  o.byte_fallback = r.flag(model, "model", "byte_fallback", false);
  o.ignore_merges = r.flag(model, "model", "ignore_merges", false);
  o.fuse_unk = r.flag(model, "model", "fuse_unk", false);
  if (const auto it = model.find("unk_token"); it != model.end() && !it->is_null()) {
    if (!it->is_string()) r.corrupt("model.unk_token", "expected a string or null");
    o.unk_id = lookup(it->get<std::string>(), "model.unk_token", "token");
  }
  if (const auto it = model.find("dropout"); it != model.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() != 0.0) {
      r.unsupported("model.dropout", "BPE dropout is not supported (it samples merges)");
    }
  }
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto it = model.find(name);
    if (it == model.end() || it->is_null()) continue;
    if (!it->is_string()) r.corrupt(std::string("model.") + name, "expected a string or null");
    if (!it->get<std::string>().empty()) {
      r.unsupported(std::string("model.") + name, "a non-empty value is not supported");
    }
  }
  return parts;
}

std::vector<AddedToken> read_added_tokens(const Reader& r, const json& root) {
  std::vector<AddedToken> tokens;
  const auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return tokens;
  if (!it->is_array()) r.corrupt("added_tokens", "expected an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& node = (*it)[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    AddedToken t;
    t.id = r.id(r.member(node, key, "id"), key + ".id");
    t.content = r.string(node, key, "content");
    if (t.content.empty()) r.corrupt(key + ".content", "must not be empty");
    t.special = r.flag(node, key, "special", false);
    t.lstrip = r.flag(node, key, "lstrip", false);
    t.rstrip = r.flag(node, key, "rstrip", false);
    if (r.flag(node, key, "single_word", false)) {
      r.unsupported(key + ".single_word", "true is not supported");
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

// tokenizer_config.json's bos_token / eos_token: a string, {"content": ...} or null.
int32_t read_config_token(const Tokenizer& tokenizer, const Reader& r, const json& config,
                          const std::string& name) {
  const auto it = config.find(name);
  if (it == config.end() || it->is_null()) return -1;
  std::string content;
  if (it->is_string()) {
    content = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    content = (*it)["content"].get<std::string>();
  } else {
    r.corrupt(name, "expected a string, {\"content\": ...} or null");
  }
  if (const auto id = tokenizer.token_id(content)) return *id;
  const int32_t id = tokenizer.piece_to_id(content);
  if (id < 0) r.corrupt(name, "\"" + content + "\" is not a token of the tokenizer.json beside it");
  return id;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw EngineError(ErrorCode::kNotFound, "cannot open " + path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

}  // namespace

std::shared_ptr<const Tokenizer> load_tokenizer_json(
    const std::string& text, const std::string& json_path,
    const std::optional<std::string>& config_path) {
  const Reader r(json_path);
  const json root = r.parse(text);
  if (!root.is_object()) r.corrupt("(root)", "expected a JSON object");

  BpeTokenizer::Parts parts;
  bool byte_level = false;
  if (const auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
    parts.normalizer = read_normalizer(r, *it, "normalizer");
  }
  if (const auto it = root.find("pre_tokenizer"); it != root.end() && !it->is_null()) {
    parts.pre_tokenizer = read_pre_tokenizer(r, *it, "pre_tokenizer", byte_level);
  }
  if (const auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    read_decoder(r, *it, "decoder", parts.decoder);
  }
  ModelParts model = read_model(r, root);
  std::vector<AddedToken> added = read_added_tokens(r, root);

  // id -> token as written; a byte-level model matches raw bytes.
  int64_t size = 0;
  for (const auto& [token, id] : model.vocab) size = std::max<int64_t>(size, id + 1);
  for (const AddedToken& t : added) size = std::max<int64_t>(size, t.id + 1);
  parts.pieces.assign(static_cast<size_t>(size), std::string());
  for (const auto& [token, id] : model.vocab) parts.pieces[static_cast<size_t>(id)] = token;
  for (size_t i = 0; i < added.size(); ++i) {
    std::string& piece = parts.pieces[static_cast<size_t>(added[i].id)];
    if (!piece.empty() && piece != added[i].content) {
      r.corrupt("added_tokens[" + std::to_string(i) + "].id",
                "id " + std::to_string(added[i].id) + " is \"" + piece +
                    "\" in model.vocab but \"" + added[i].content + "\" here");
    }
    piece = added[i].content;
  }
  std::unordered_map<std::string, int32_t> match_vocab;
  if (byte_level) {
    match_vocab.reserve(model.vocab.size());
    for (const auto& [token, id] : model.vocab) {
      // A token outside the byte alphabet can never be produced from text.
      if (auto bytes = byte_level::to_bytes(token)) match_vocab.emplace(std::move(*bytes), id);
    }
  } else {
    match_vocab = std::move(model.vocab);
  }
  model.options.byte_level = byte_level;
  parts.model = std::make_unique<BpeModel>(std::move(match_vocab), model.merges, model.options);
  parts.added = AddedTokens(std::move(added));

  auto tokenizer = std::make_shared<BpeTokenizer>(std::move(parts));
  if (config_path) {
    const Reader c(*config_path);
    const json config = c.parse(read_file(*config_path));
    if (!config.is_object()) c.corrupt("(root)", "expected a JSON object");
    const int32_t bos = read_config_token(*tokenizer, c, config, "bos_token");
    const int32_t eos = read_config_token(*tokenizer, c, config, "eos_token");
    tokenizer->set_bos_eos(bos, eos);
  }
  return tokenizer;
}

}  // namespace infini
