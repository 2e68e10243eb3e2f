// Splits a Jinja template into text and the tokens inside its tags, with the
// whitespace rules Hugging Face compiles chat templates with: trim_blocks and
// lstrip_blocks on, `{%-`/`-%}` (and `{{-`, `{#-`...) strip all whitespace on
// that side, `{%+` keeps it, one trailing newline of the template is dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace infini::chat_template {

struct Token {
  enum class Kind {
    kText,        // literal template text (whitespace rules already applied)
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kVarBegin,    // {{
    kVarEnd,      // }}
    kName,        // identifiers and keywords (if, for, and, not, true, none...)
    kString,      // a string literal, unescaped
    kInteger,
    kFloat,
    kOperator,  // + - * / // % ** ~ == != < <= > >= = | . , : ( ) [ ] { }
    kEnd,
  };
  Kind kind;
  std::string text;
  int line = 1;
};

// Throws TemplateError (template_error.h) with the line of the
// fault: an unclosed tag, comment or string, a character no token starts with.
std::vector<Token> tokenize(std::string_view source);

}  // namespace infini::chat_template
