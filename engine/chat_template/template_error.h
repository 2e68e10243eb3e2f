// What the lexer, parser and interpreter throw: the line and what failed. The
// ChatTemplate that owns them turns it into an EngineError naming the file
// and key the template came from, so no other exception leaves a render.
#pragma once

#include <string>

namespace infini::chat_template {

struct TemplateError {
  int line = 0;
  std::string what;
};

}  // namespace infini::chat_template
