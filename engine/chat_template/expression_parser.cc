#include "engine/chat_template/expression_parser.h"

namespace infini::chat_template {

namespace {

ExprPtr make(Expr::Kind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

}  // namespace

// `set a = 1, 2` makes a tuple.
ExprPtr ExpressionParser::parse_tuple_or_expression() {
  const int line = cur().line;
  ExprPtr first = parse_expression();
  if (!at_op(",")) return first;
  auto tuple = make(Expr::Kind::kTuple, line);
  tuple->items.push_back(std::move(first));
  while (at_op(",")) {
    take();
    tuple->items.push_back(parse_expression());
  }
  return tuple;
}

ExprPtr ExpressionParser::parse_expression() {
  const Nesting nesting(*this);
  ExprPtr e = parse_or();
  while (at_name("if")) {
    auto cond = make(Expr::Kind::kCondition, take().line);
    cond->items.push_back(parse_or());
    cond->items.push_back(std::move(e));
    if (at_name("else")) {
      take();
      cond->items.push_back(parse_expression());
    } else {
      cond->items.push_back(nullptr);
    }
    e = std::move(cond);
  }
  return e;
}

ExprPtr ExpressionParser::binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
  auto e = make(Expr::Kind::kBinary, line);
  e->name = op;
  e->items.push_back(std::move(left));
  e->items.push_back(std::move(right));
  return e;
}

ExprPtr ExpressionParser::parse_or() {
  ExprPtr e = parse_and();
  while (at_name("or")) {
    const int line = take().line;
    e = binary("or", std::move(e), parse_and(), line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_and() {
  ExprPtr e = parse_not();
  while (at_name("and")) {
    const int line = take().line;
    e = binary("and", std::move(e), parse_not(), line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_not() {
  const Nesting nesting(*this);
  if (at_name("not")) {
    auto e = make(Expr::Kind::kUnary, take().line);
    e->name = "not";
    e->items.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr ExpressionParser::parse_compare() {
  const int line = cur().line;
  ExprPtr first = parse_math1();
  ExprPtr cmp;
  while (true) {
    std::string op;
    if (cur().kind == K::kOperator &&
        (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
         cur().text == ">" || cur().text == ">=")) {
      op = take().text;
    } else if (at_name("in")) {
      take();
      op = "in";
    } else if (at_name("not") && peek().kind == K::kName && peek().text == "in") {
      take();
      take();
      op = "not in";
    } else {
      break;
    }
    if (!cmp) {
      cmp = make(Expr::Kind::kCompare, line);
      cmp->items.push_back(std::move(first));
    }
    cmp->ops.push_back(op);
    cmp->items.push_back(parse_math1());
  }
  return cmp ? std::move(cmp) : std::move(first);
}

ExprPtr ExpressionParser::parse_math1() {
  ExprPtr e = parse_concat();
  while (at_op("+") || at_op("-")) {
    const Token& op = take();
    e = binary(op.text, std::move(e), parse_concat(), op.line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_concat() {
  ExprPtr e = parse_math2();
  while (at_op("~")) {
    const int line = take().line;
    e = binary("~", std::move(e), parse_math2(), line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_math2() {
  ExprPtr e = parse_pow();
  while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
    const Token& op = take();
    e = binary(op.text, std::move(e), parse_pow(), op.line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_pow() {
  ExprPtr e = parse_unary(true);
  while (at_op("**")) {
    const int line = take().line;
    e = binary("**", std::move(e), parse_unary(true), line);
  }
  return e;
}

ExprPtr ExpressionParser::parse_unary(bool with_filter) {
  const Nesting nesting(*this);
  ExprPtr e;
  if (at_op("-") || at_op("+")) {
    e = make(Expr::Kind::kUnary, cur().line);
    e->name = take().text;
    e->items.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  return with_filter ? parse_filters_and_tests(std::move(e)) : std::move(e);
}

ExprPtr ExpressionParser::parse_primary() {
  const Token& token = cur();
  switch (token.kind) {
    case K::kName: {
      take();
      const std::string& n = token.text;
      if (n == "true" || n == "True") return literal(Value(true), token.line);
      if (n == "false" || n == "False") return literal(Value(false), token.line);
      if (n == "none" || n == "None") return literal(Value::none(), token.line);
      auto e = make(Expr::Kind::kName, token.line);
      e->name = n;
      return e;
    }
    case K::kString: {
      std::string s = take().text;
      while (cur().kind == K::kString) s += take().text;  // 'a' 'b' is 'ab'
      return literal(Value(std::move(s)), token.line);
    }
    case K::kInteger: {
      take();
      try {
        return literal(Value(static_cast<int64_t>(std::stoll(token.text))), token.line);
      } catch (const std::exception&) {
        throw TemplateError{token.line, "integer literal out of range: " + token.text};
      }
    }
    case K::kFloat:
      take();
      return literal(Value(std::stod(token.text)), token.line);
    case K::kOperator:
      if (token.text == "(") return parse_parenthesized();
      if (token.text == "[") return parse_list();
      if (token.text == "{") return parse_dict();
      break;
    default:
      break;
  }
  fail("expected an expression, found " + describe(token));
}

ExprPtr ExpressionParser::literal(Value v, int line) {
  auto e = make(Expr::Kind::kLiteral, line);
  e->literal = std::move(v);
  return e;
}

ExprPtr ExpressionParser::parse_parenthesized() {
  const int line = take().line;
  if (at_op(")")) {
    take();
    return make(Expr::Kind::kTuple, line);
  }
  ExprPtr first = parse_expression();
  if (at_op(")")) {
    take();
    return first;
  }
  auto tuple = make(Expr::Kind::kTuple, line);
  tuple->items.push_back(std::move(first));
  while (at_op(",")) {
    take();
    if (at_op(")")) break;
    tuple->items.push_back(parse_expression());
  }
  expect_op(")");
  return tuple;
}

ExprPtr ExpressionParser::parse_list() {
  auto e = make(Expr::Kind::kList, take().line);
  while (!at_op("]")) {
    e->items.push_back(parse_expression());
    if (!at_op("]")) expect_op(",");
  }
  take();
  return e;
}

ExprPtr ExpressionParser::parse_dict() {
  auto e = make(Expr::Kind::kDict, take().line);
  while (!at_op("}")) {
    e->items.push_back(parse_expression());
    expect_op(":");
    e->items.push_back(parse_expression());
    if (!at_op("}")) expect_op(",");
  }
  take();
  return e;
}

ExprPtr ExpressionParser::parse_postfix(ExprPtr e) {
  while (true) {
    if (at_op(".")) {
      auto attr = make(Expr::Kind::kAttribute, take().line);
      if (cur().kind == K::kInteger) {  // foo.0 is foo[0]
        attr->kind = Expr::Kind::kIndex;
        attr->items.push_back(std::move(e));
        attr->items.push_back(
            literal(Value(static_cast<int64_t>(std::stoll(take().text))), attr->line));
      } else {
        attr->name = expect_name("an attribute name after '.'");
        attr->items.push_back(std::move(e));
      }
      e = std::move(attr);
    } else if (at_op("[")) {
      e = parse_subscript(std::move(e));
    } else if (at_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::parse_subscript(ExprPtr target) {
  const int line = take().line;
  ExprPtr parts[3];
  int part = 0;
  bool slice = false;
  while (!at_op("]")) {
    if (at_op(":")) {
      take();
      slice = true;
      if (++part > 2) fail("a slice has at most three parts");
      continue;
    }
    if (parts[part]) fail("expected ']' or ':', found " + describe(cur()));
    parts[part] = parse_expression();
  }
  take();
  auto e = make(slice ? Expr::Kind::kSlice : Expr::Kind::kIndex, line);
  e->items.push_back(std::move(target));
  if (!slice) {
    if (!parts[0]) throw TemplateError{line, "empty subscript '[]'"};
    e->items.push_back(std::move(parts[0]));
  } else {
    for (auto& p : parts) e->items.push_back(std::move(p));
  }
  return e;
}

// Arguments of a call, a filter or a test: positional then name=value.
void ExpressionParser::parse_arguments(Expr& e) {
  expect_op("(");
  while (!at_op(")")) {
    if (at_op("*") || at_op("**")) fail("unsupported: *args and **kwargs in calls");
    if (cur().kind == K::kName && peek().kind == K::kOperator && peek().text == "=") {
      std::string key = take().text;
      take();
      e.keywords.emplace_back(std::move(key), parse_expression());
    } else {
      if (!e.keywords.empty()) fail("a positional argument follows a keyword argument");
      e.items.push_back(parse_expression());
    }
    if (!at_op(")")) expect_op(",");
  }
  take();
}

ExprPtr ExpressionParser::parse_call(ExprPtr callee) {
  auto e = make(Expr::Kind::kCall, cur().line);
  e->items.push_back(std::move(callee));
  parse_arguments(*e);
  return e;
}

ExprPtr ExpressionParser::parse_filters_and_tests(ExprPtr e) {
  while (true) {
    if (at_op("|")) {
      auto f = make(Expr::Kind::kFilter, take().line);
      f->name = expect_name("a filter name after '|'");
      while (at_op(".")) {
        take();
        const std::string part = expect_name("a filter name");
        f->name.push_back('.');
        f->name.append(part);
      }
      f->items.push_back(std::move(e));
      if (at_op("(")) parse_arguments(*f);
      e = std::move(f);
    } else if (at_name("is")) {
      auto t = make(Expr::Kind::kTest, take().line);
      if (at_name("not")) {
        take();
        t->negated = true;
      }
      t->name = expect_name("a test name after 'is'");
      t->items.push_back(std::move(e));
      if (at_op("(")) {
        parse_arguments(*t);
      } else if (starts_test_argument()) {
        t->items.push_back(parse_postfix(parse_primary()));
      }
      e = std::move(t);
    } else if (at_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

// `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
bool ExpressionParser::starts_test_argument() const {
  switch (cur().kind) {
    case K::kName:
      return cur().text != "else" && cur().text != "or" && cur().text != "and" &&
             cur().text != "if" && cur().text != "is" && cur().text != "in" && cur().text != "not";
    case K::kString:
    case K::kInteger:
    case K::kFloat:
      return true;
    case K::kOperator:
      return cur().text == "[" || cur().text == "{";
    default:
      return false;
  }
}

}  // namespace infini::chat_template
