// Builds the statement tree of a template from its tokens, following Jinja's
// grammar and operator precedence (jinja2/parser.py): conditional, or, and,
// not, comparisons, + -, ~, * / // %, **, unary, then filters and tests.
#pragma once

#include <vector>

#include "engine/chat_template/ast.h"
#include "engine/chat_template/lexer.h"

namespace infini::chat_template {

// Throws TemplateError naming the line and the construct: a syntax error, a
// tag left open, or a tag this interpreter does not support (include,
// extends, import, block, filter, call, with...).
Body parse(const std::vector<Token>& tokens);

}  // namespace infini::chat_template
