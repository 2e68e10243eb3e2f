// Jinja expressions, by jinja2/parser.py's precedence: conditional, or,
// and, not, comparisons (== != < <= > >= in, not in), + -, ~, * / // %,
// **, unary - +, then postfix (.attr, [index], [a:b:c], calls), filters
// (| name(args)) and tests (is [not] name args).
#pragma once

#include <string>

#include "engine/chat_template/ast.h"
#include "engine/chat_template/token_cursor.h"

namespace infini::chat_template {

class ExpressionParser : public TokenCursor {
 public:
  using TokenCursor::TokenCursor;

 protected:
  ExprPtr parse_tuple_or_expression();
  ExprPtr parse_expression();
  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr literal(Value v, int line);
  ExprPtr parse_parenthesized();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr target);
  void parse_arguments(Expr& e);
  ExprPtr parse_call(ExprPtr callee);
  ExprPtr parse_filters_and_tests(ExprPtr e);
  bool starts_test_argument() const;
};

}  // namespace infini::chat_template
