#include "engine/prompt_template.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "engine/chat_template/chat_config.h"
#include "engine/chat_template/methods.h"
#include "engine/error.h"

namespace infini {

namespace {

namespace fs = std::filesystem;

// Stand-ins rendered in place of the document and the question, then cut at;
// nothing a template does to message text (trim, split on tags) touches them.
constexpr std::string_view kDocumentMark = "@@infini-document-8d1f@@";
constexpr std::string_view kQuestionMark = "@@infini-question-8d1f@@";
constexpr std::string_view kAnswerMark = "@@infini-answer-8d1f@@";
constexpr const char* kSummaryInstruction = "Summarize the document above.";

// What prompt_template.json may say; every other key is refused (a typo
// would otherwise be ignored silently).
struct PromptFile {
  fs::path path;
  std::optional<std::string> document_prefix, question, summary;
  std::optional<std::vector<std::string>> stop;
  std::optional<std::string> system_prompt, summary_instruction;
  nlohmann::json template_variables = nlohmann::json::object();
  bool sets_chat_options = false;

  bool replaces_chat_template() const { return document_prefix || question || summary; }
  // The first chat-template key it sets, for errors.
  const char* chat_key() const {
    return system_prompt         ? "system_prompt"
           : summary_instruction ? "summary_instruction"
                                 : "template_variables";
  }
};

[[noreturn]] void bad_key(const fs::path& file, const std::string& key, const std::string& what) {
  throw EngineError(ErrorCode::kInvalidArgument, file.string() + ", key " + key + ": " + what);
}

std::optional<PromptFile> read_prompt_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(ErrorCode::kCorruptData, path.string() + ": " + e.what());
  }
  if (!j.is_object()) bad_key(path, "(top level)", "expected an object");
  PromptFile f;
  f.path = path;
  const auto string_of = [&](const std::string& key, const nlohmann::json& v) {
    if (!v.is_string()) bad_key(path, key, "expected a string");
    return v.get<std::string>();
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "document_prefix") {
      f.document_prefix = string_of(key, v);
    } else if (key == "question") {
      f.question = string_of(key, v);
    } else if (key == "summary") {
      f.summary = string_of(key, v);
    } else if (key == "stop") {
      if (!v.is_array()) bad_key(path, key, "expected a list of strings");
      std::vector<std::string> stop;
      for (const auto& s : v) {
        if (!s.is_string() || s.get<std::string>().empty()) {
          bad_key(path, key, "expected a list of non-empty strings");
        }
        stop.push_back(s.get<std::string>());
      }
      f.stop = std::move(stop);
    } else if (key == "system_prompt") {
      f.system_prompt = string_of(key, v);
      f.sets_chat_options = true;
    } else if (key == "summary_instruction") {
      f.summary_instruction = string_of(key, v);
      if (f.summary_instruction->empty()) bad_key(path, key, "must not be empty");
      f.sets_chat_options = true;
    } else if (key == "template_variables") {
      if (!v.is_object())
        bad_key(path, key, "expected an object (e.g. {\"enable_thinking\": false})");
      f.template_variables = v;
      f.sets_chat_options = true;
    } else {
      bad_key(path, key,
              "unknown key (known: document_prefix, question, summary, stop, system_prompt, "
              "summary_instruction, template_variables)");
    }
  }
  return f;
}

size_t find_once(const std::string& text, std::string_view mark, const std::string& origin,
                 const char* what) {
  const size_t at = text.find(mark);
  if (at == std::string::npos || text.find(mark, at + 1) != std::string::npos) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      origin + ": the template does not render the " + what +
                          " once, as given (infini cuts the render at it)");
  }
  return at;
}

// The special token the render continues with right after `at`, longest
// first: how the template ends a turn.
std::optional<int32_t> special_token_at(const std::string& text, size_t at,
                                        const ChatConfig& config, const Tokenizer* tokenizer) {
  std::optional<int32_t> found;
  size_t found_length = 0;
  for (const auto& [content, id] : config.added_special_tokens) {
    if (content.size() > found_length && text.compare(at, content.size(), content) == 0) {
      found = id;
      found_length = content.size();
    }
  }
  if (!found && tokenizer != nullptr) {
    for (size_t n = std::min<size_t>(64, text.size() - at); n > 0; --n) {
      const auto id = tokenizer->token_id(std::string_view(text).substr(at, n));
      if (id && tokenizer->is_special(*id)) return id;
    }
  }
  return found;
}

std::optional<int32_t> token_id_of(const std::string& token, const ChatConfig& config,
                                   const Tokenizer* tokenizer) {
  if (token.empty()) return std::nullopt;
  const auto it = config.added_special_tokens.find(token);
  if (it != config.added_special_tokens.end()) return it->second;
  if (tokenizer != nullptr) return tokenizer->token_id(token);
  return std::nullopt;
}

void derive_from_chat_template(const ChatConfig& config, const PromptFile* file,
                               const Tokenizer* tokenizer, PromptTemplate& t) {
  const ChatTemplate& chat = *config.chat_template;
  ChatRenderOptions options;
  options.bos_token = config.bos_token;
  options.eos_token = config.eos_token;
  for (const auto& [key, value] : config.special_tokens) options.variables[key] = value;
  if (file != nullptr) options.variables.update(file->template_variables);
  const std::string system = file && file->system_prompt ? *file->system_prompt : "";
  const auto conversation = [&](const std::string& user) {
    std::vector<ChatMessage> m;
    if (!system.empty()) m.push_back({"system", system});
    m.push_back({"user", user});
    return m;
  };
  const std::string document(kDocumentMark), question(kQuestionMark);

  const std::string full = chat.render(conversation(document + "\n\n" + question), options);
  const size_t d = find_once(full, kDocumentMark, chat.origin(), "user message's text");
  const size_t q = find_once(full, kQuestionMark, chat.origin(), "user message's text");
  if (q < d) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      chat.origin() + ": the template reorders the user message's text");
  }
  t.document_prefix = full.substr(0, d);
  t.question_lead = full.substr(d + document.size(), q - d - document.size());
  t.question_tail = full.substr(q + question.size());

  // Llama 3's `message['content'] | trim`: the question loses its trailing whitespace.
  const std::string probe =
      chat.render(conversation(document + "\n\n" + question + " \n"), options);
  t.trims_question = probe.find(question + " \n") == std::string::npos;

  const std::string instruction =
      file && file->summary_instruction ? *file->summary_instruction : kSummaryInstruction;
  const std::string summary = chat.render(conversation(document + "\n\n" + instruction), options);
  const size_t sd = find_once(summary, kDocumentMark, chat.origin(), "user message's text");
  if (summary.compare(0, sd, t.document_prefix) != 0) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      chat.origin() +
                          ": the template renders different text before the document for a summary "
                          "than for a question; a session reads it before knowing which");
  }
  t.summary_tail = summary.substr(sd + document.size());

  // The end-of-turn token: what the template writes right after an assistant's text.
  std::optional<int32_t> end_of_turn;
  try {
    ChatRenderOptions turn = options;
    turn.add_generation_prompt = false;
    std::vector<ChatMessage> m = conversation("Hi.");
    m.push_back({"assistant", std::string(kAnswerMark)});
    const std::string rendered = chat.render(m, turn);
    const size_t a = rendered.find(kAnswerMark);
    if (a != std::string::npos) {
      end_of_turn = special_token_at(rendered, a + kAnswerMark.size(), config, tokenizer);
    }
  } catch (const EngineError&) {
    // A template that refuses this conversation names no end of turn; the
    // eos ids below still stop generation.
  }
  const auto add_stop = [&](std::optional<int32_t> id) {
    if (id && std::find(t.stop_ids.begin(), t.stop_ids.end(), *id) == t.stop_ids.end()) {
      t.stop_ids.push_back(*id);
    }
  };
  add_stop(token_id_of(config.eos_token, config, tokenizer));
  for (const int32_t id : config.generation_eos_ids) add_stop(id);
  add_stop(end_of_turn);

  t.from_chat_template = true;
  t.stop = file && file->stop ? *file->stop : std::vector<std::string>{};
  t.origin = "chat template (" + chat.origin() + ")";
}

}  // namespace

PromptTemplate PromptTemplate::load(const std::string& model_dir, const Tokenizer* tokenizer,
                                    const std::optional<std::string>& system_prompt) {
  PromptTemplate t;
  auto file = read_prompt_file(fs::path(model_dir) / "prompt_template.json");
  const auto refuse_system_prompt = [&](const std::string& why) {
    if (system_prompt && !system_prompt->empty()) {
      throw EngineError(ErrorCode::kInvalidArgument,
                        "a system prompt (--system-prompt) needs a chat template: " + why);
    }
  };
  if (file && file->replaces_chat_template()) {
    refuse_system_prompt(file->path.string() +
                         " sets document_prefix, question or summary, which replace it");
    if (file->sets_chat_options) {
      bad_key(file->path, file->chat_key(),
              "applies to the checkpoint's chat template, which document_prefix, question and "
              "summary replace; keep one or the other");
    }
    if (file->document_prefix) t.document_prefix = *file->document_prefix;
    if (file->question) t.question = *file->question;
    if (file->summary) t.summary = *file->summary;
    if (file->stop) t.stop = *file->stop;
    t.origin = file->path.string();
    return t;
  }
  const ChatConfig config = ChatConfig::load(model_dir);
  if (config.chat_template && system_prompt) {
    if (!file) file.emplace();
    file->system_prompt = *system_prompt;
  }
  if (config.chat_template) {
    derive_from_chat_template(config, file ? &*file : nullptr, tokenizer, t);
    return t;
  }
  refuse_system_prompt(model_dir +
                       " has none (tokenizer_config.json's chat_template or chat_template.jinja)");
  if (file && file->sets_chat_options) {
    bad_key(file->path, file->chat_key(),
            "the checkpoint has no chat template (tokenizer_config.json's chat_template or "
            "chat_template.jinja) for it to apply to");
  }
  if (file && file->stop) t.stop = *file->stop;
  if (file) t.origin = file->path.string();
  return t;
}

std::string PromptTemplate::question_text(const std::string& q) const {
  std::string out = question;
  const std::string marker = "{question}";
  const auto at = out.find(marker);
  if (at == std::string::npos) return out + q;
  return out.replace(at, marker.size(), q);
}

std::vector<PromptPiece> PromptTemplate::document_prefix_pieces() const {
  if (document_prefix.empty()) return {};
  // prompt_template.json text was always read as plain text; kept so.
  return {PromptPiece{document_prefix, from_chat_template}};
}

std::vector<PromptPiece> PromptTemplate::question_pieces(const std::string& q) const {
  if (!from_chat_template) return {PromptPiece{question_text(q), false}};
  std::string user = q;
  if (trims_question) {
    user = chat_template::python_strip(q, chat_template::Value(), chat_template::StripSide::kRight);
  }
  return {PromptPiece{question_lead, true}, PromptPiece{user, false},
          PromptPiece{question_tail, true}};
}

std::vector<PromptPiece> PromptTemplate::summary_pieces() const {
  if (!from_chat_template) return {PromptPiece{summary, false}};
  return {PromptPiece{summary_tail, true}};
}

PromptTemplate::Ids PromptTemplate::encode_after_document(
    const Tokenizer& tokenizer, StreamingEncoder encoder,
    const std::vector<PromptPiece>& pieces) const {
  Ids ids;
  if (!from_chat_template) {
    ids.document_rest = encoder.finish();
    for (const auto& piece : pieces) {
      const auto more = tokenizer.encode(
          piece.text, piece.is_template ? SpecialTokens::kParse : SpecialTokens::kAsText);
      ids.prompt.insert(ids.prompt.end(), more.begin(), more.end());
    }
    return ids;
  }
  ids.prompt = push_pieces(encoder, pieces);
  const auto rest = encoder.finish();
  ids.prompt.insert(ids.prompt.end(), rest.begin(), rest.end());
  return ids;
}

std::vector<int32_t> push_pieces(StreamingEncoder& encoder,
                                 const std::vector<PromptPiece>& pieces) {
  std::vector<int32_t> ids;
  for (const auto& piece : pieces) {
    const auto more =
        piece.is_template ? encoder.push_template(piece.text) : encoder.push(piece.text);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  return ids;
}

}  // namespace infini
