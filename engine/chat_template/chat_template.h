// A Hugging Face chat template (the Jinja text in a checkpoint's
// tokenizer_config.json or chat_template.jinja), parsed once and rendered as
// transformers' apply_chat_template renders it: trim_blocks and
// lstrip_blocks on, raise_exception() and strftime_now() defined.
//
// Errors are EngineErrors naming where the template came from and its line:
//   "DIR/tokenizer_config.json, key chat_template, line 12: unsupported filter 'wordwrap'"
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace infini {

namespace chat_template {
struct Node;
}

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct ChatRenderOptions {
  std::string bos_token;  // tokenizer_config.json's; "" leaves it undefined
  std::string eos_token;
  bool add_generation_prompt = true;
  // Further template variables (enable_thinking, date_string...), an object.
  nlohmann::json variables = nlohmann::json::object();
  // strftime_now()'s clock, local time as transformers uses; tests fix it.
  std::function<std::time_t()> now = [] { return std::time(nullptr); };
};

class ChatTemplate {
 public:
  // Parses `source`; `origin` names it in errors ("DIR/tokenizer_config.json,
  // key chat_template"). Throws EngineError(kInvalidArgument) for a syntax
  // error or a construct this interpreter does not support, with its line.
  ChatTemplate(const std::string& source, std::string origin);

  // Throws EngineError(kInvalidArgument) naming the origin and line when the
  // template fails: raise_exception(), an undefined value used, a bad type.
  std::string render(const std::vector<ChatMessage>& messages,
                     const ChatRenderOptions& options) const;

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::shared_ptr<const std::vector<std::unique_ptr<chat_template::Node>>> body_;
};

}  // namespace infini
