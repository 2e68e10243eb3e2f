#include "engine/chat_template/chat_template.h"

#include "engine/chat_template/ast.h"
#include "engine/chat_template/interpreter.h"
#include "engine/chat_template/lexer.h"
#include "engine/chat_template/parser.h"
#include "engine/chat_template/template_error.h"
#include "engine/error.h"

namespace infini {

namespace ct = chat_template;

namespace {

EngineError located(const std::string& origin, const ct::TemplateError& e) {
  return EngineError(ErrorCode::kInvalidArgument,
                     origin + ", line " + std::to_string(e.line) + ": " + e.what);
}

ct::Value strftime_now(const std::function<std::time_t()>& now, const ct::CallArgs& args) {
  const ct::Value format = args.get(0, "format");
  if (!format.is_string()) throw ct::TemplateFailure{"strftime_now() needs a format string"};
  const std::time_t t = now();
  std::tm local{};
  localtime_r(&t, &local);
  char buf[256];
  const size_t n = std::strftime(buf, sizeof buf, format.as_string().c_str(), &local);
  if (n == 0 && !format.as_string().empty()) {
    throw ct::TemplateFailure{"strftime_now(): the format gives no text or more than 255 bytes"};
  }
  return ct::Value(std::string(buf, n));
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source, std::string origin)
    : origin_(std::move(origin)) {
  try {
    body_ = std::make_shared<const ct::Body>(ct::parse(ct::tokenize(source)));
  } catch (const ct::TemplateError& e) {
    throw located(origin_, e);
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 const ChatRenderOptions& options) const {
  ct::Array message_values;
  for (const auto& m : messages) {
    message_values.emplace_back(
        ct::Object{{"role", ct::Value(m.role)}, {"content", ct::Value(m.content)}});
  }
  ct::Object variables{
      {"messages", ct::Value(std::move(message_values))},
      {"add_generation_prompt", ct::Value(options.add_generation_prompt)},
      {"raise_exception", ct::Value::function([](const ct::CallArgs& args) -> ct::Value {
         throw ct::TemplateFailure{"the template raised an error: " + args.get(0, "message").str()};
       })},
      {"strftime_now", ct::Value::function([now = options.now](const ct::CallArgs& args) {
         return strftime_now(now, args);
       })},
  };
  // As transformers, a token the config leaves null is not defined at all.
  if (!options.bos_token.empty()) variables.emplace_back("bos_token", ct::Value(options.bos_token));
  if (!options.eos_token.empty()) variables.emplace_back("eos_token", ct::Value(options.eos_token));
  if (options.variables.is_object()) {
    for (const auto& [k, v] : options.variables.items()) {
      variables.emplace_back(k, ct::Value::from_json(v));
    }
  }
  try {
    return ct::Interpreter(variables).render(*body_);
  } catch (const ct::TemplateError& e) {
    throw located(origin_, e);
  } catch (const ct::TemplateFailure& f) {  // from a function called outside any expression
    throw EngineError(ErrorCode::kInvalidArgument, origin_ + ": " + f.what);
  }
}

}  // namespace infini
