#include "engine/chat_template/parser.h"

#include <set>
#include <string>

#include "engine/chat_template/template_error.h"

namespace infini::chat_template {

namespace {

using K = Token::Kind;

// Nesting deeper than this (brackets, unary operators, blocks) is refused
// rather than recursed into: no template needs it, and the stack is finite.
constexpr int kMaxDepth = 200;

ExprPtr make(Expr::Kind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_template() {
    std::string stopped_at;
    Body body = parse_body({}, stopped_at);
    return body;
  }

 private:
  // Counts one level of recursion for as long as it lives.
  class Nesting {
   public:
    explicit Nesting(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        throw TemplateError{p_.cur().line,
                            "nested more than " + std::to_string(kMaxDepth) + " levels deep"};
      }
    }
    ~Nesting() { --p_.depth_; }

   private:
    Parser& p_;
  };

  const Token& cur() const { return t_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  bool at_op(const char* op) const { return cur().kind == K::kOperator && cur().text == op; }
  bool at_name(const char* name) const { return cur().kind == K::kName && cur().text == name; }
  const Token& take() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }

  [[noreturn]] void fail(const std::string& what) const { throw TemplateError{cur().line, what}; }

  std::string describe(const Token& token) const {
    switch (token.kind) {
      case K::kEnd:
        return "the end of the template";
      case K::kBlockEnd:
        return "'%}'";
      case K::kVarEnd:
        return "'}}'";
      case K::kString:
        return "a string";
      default:
        return "'" + token.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (!at_op(op)) fail(std::string("expected '") + op + "', found " + describe(cur()));
    take();
  }
  std::string expect_name(const char* what) {
    if (cur().kind != K::kName)
      fail(std::string("expected ") + what + ", found " + describe(cur()));
    return take().text;
  }
  void expect_block_end() {
    if (cur().kind != K::kBlockEnd) fail("expected '%}', found " + describe(cur()));
    take();
  }

  // Statements up to one of `stops` (a block tag name, left unconsumed
  // after `{%`, returned in `stopped_at`), or the end when stops is empty.
  Body parse_body(const std::set<std::string>& stops, std::string& stopped_at) {
    const Nesting nesting(*this);
    Body body;
    while (true) {
      const Token& token = cur();
      if (token.kind == K::kEnd) {
        if (!stops.empty()) {
          std::string names;
          for (const auto& s : stops) names += (names.empty() ? "'" : " or '") + s + "'";
          fail("the template ended where " + names + " was expected");
        }
        return body;
      }
      if (token.kind == K::kText) {
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kText;
        node->line = token.line;
        node->text = take().text;
        body.push_back(std::move(node));
      } else if (token.kind == K::kVarBegin) {
        take();
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kOutput;
        node->line = token.line;
        node->expr = parse_expression();
        if (cur().kind != K::kVarEnd) fail("expected '}}', found " + describe(cur()));
        take();
        body.push_back(std::move(node));
      } else if (token.kind == K::kBlockBegin) {
        const Token& name = peek();
        if (name.kind == K::kName && stops.count(name.text)) {
          take();
          stopped_at = take().text;
          return body;
        }
        take();
        if (NodePtr node = parse_statement()) body.push_back(std::move(node));
      } else {
        fail("unexpected " + describe(token));
      }
    }
  }

  NodePtr parse_statement() {
    const int line = cur().line;
    if (cur().kind != K::kName) fail("expected a tag name after '{%', found " + describe(cur()));
    const std::string tag = take().text;
    auto node = std::make_unique<Node>();
    node->line = line;
    std::string stopped;
    if (tag == "if") {
      node->kind = Node::Kind::kIf;
      node->conditions.push_back(parse_expression());
      expect_block_end();
      while (true) {
        node->bodies.push_back(parse_body({"elif", "else", "endif"}, stopped));
        if (stopped == "elif") {
          node->conditions.push_back(parse_expression());
          expect_block_end();
        } else if (stopped == "else") {
          expect_block_end();
          node->bodies.push_back(parse_body({"endif"}, stopped));
          break;
        } else {
          break;
        }
      }
      expect_block_end();
    } else if (tag == "for") {
      node->kind = Node::Kind::kFor;
      node->targets.push_back(expect_name("a loop variable"));
      while (at_op(",")) {
        take();
        node->targets.push_back(expect_name("a loop variable"));
      }
      if (!at_name("in")) fail("expected 'in' in the for tag, found " + describe(cur()));
      take();
      node->expr = parse_or();  // `if` after the iterable filters the loop
      if (at_name("if")) {
        take();
        node->filter = parse_expression();
      }
      if (at_name("recursive")) fail("unsupported: recursive for loops");
      expect_block_end();
      node->body = parse_body({"else", "endfor"}, stopped);
      if (stopped == "else") {
        expect_block_end();
        node->else_body = parse_body({"endfor"}, stopped);
      }
      expect_block_end();
    } else if (tag == "set") {
      std::string target = expect_name("a variable name");
      if (at_op(".")) {
        take();
        target += "." + expect_name("an attribute name");
      }
      node->targets.push_back(target);
      while (at_op(",")) {
        take();
        node->targets.push_back(expect_name("a variable name"));
      }
      if (cur().kind == K::kBlockEnd && node->targets.size() == 1) {
        take();
        node->kind = Node::Kind::kSetBlock;
        node->body = parse_body({"endset"}, stopped);
        expect_block_end();
      } else {
        node->kind = Node::Kind::kSet;
        expect_op("=");
        node->expr = parse_tuple_or_expression();
        expect_block_end();
      }
    } else if (tag == "break" || tag == "continue") {
      node->kind = tag == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      expect_block_end();
    } else if (tag == "macro") {
      node->kind = Node::Kind::kMacro;
      node->text = expect_name("a macro name");
      expect_op("(");
      while (!at_op(")")) {
        std::string param = expect_name("a parameter name");
        ExprPtr default_value;
        if (at_op("=")) {
          take();
          default_value = parse_expression();
        }
        node->params.emplace_back(std::move(param), std::move(default_value));
        if (!at_op(")")) expect_op(",");
      }
      take();
      expect_block_end();
      node->body = parse_body({"endmacro"}, stopped);
      if (cur().kind == K::kName) take();  // {% endmacro name %}
      expect_block_end();
    } else if (tag == "generation" || tag == "endgeneration") {
      // transformers' extension marking assistant text; it renders nothing itself.
      expect_block_end();
      return nullptr;
    } else if (tag == "elif" || tag == "else" || tag.rfind("end", 0) == 0) {
      throw TemplateError{line, "'{% " + tag + " %}' without a tag it closes"};
    } else {
      throw TemplateError{line, "unsupported tag '{% " + tag + " %}'"};
    }
    return node;
  }

  // `set a = 1, 2` makes a tuple.
  ExprPtr parse_tuple_or_expression() {
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

  ExprPtr parse_expression() {
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

  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    auto e = make(Expr::Kind::kBinary, line);
    e->name = op;
    e->items.push_back(std::move(left));
    e->items.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (at_name("or")) {
      const int line = take().line;
      e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (at_name("and")) {
      const int line = take().line;
      e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
  }

  ExprPtr parse_not() {
    const Nesting nesting(*this);
    if (at_name("not")) {
      auto e = make(Expr::Kind::kUnary, take().line);
      e->name = "not";
      e->items.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
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

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& op = take();
      e = binary(op.text, std::move(e), parse_concat(), op.line);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (at_op("~")) {
      const int line = take().line;
      e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& op = take();
      e = binary(op.text, std::move(e), parse_pow(), op.line);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (at_op("**")) {
      const int line = take().line;
      e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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

  ExprPtr literal(Value v, int line) {
    auto e = make(Expr::Kind::kLiteral, line);
    e->literal = std::move(v);
    return e;
  }

  ExprPtr parse_parenthesized() {
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

  ExprPtr parse_list() {
    auto e = make(Expr::Kind::kList, take().line);
    while (!at_op("]")) {
      e->items.push_back(parse_expression());
      if (!at_op("]")) expect_op(",");
    }
    take();
    return e;
  }

  ExprPtr parse_dict() {
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_subscript(ExprPtr target) {
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
  void parse_arguments(Expr& e) {
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

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::Kind::kCall, cur().line);
    e->items.push_back(std::move(callee));
    parse_arguments(*e);
    return e;
  }

  ExprPtr parse_filters_and_tests(ExprPtr e) {
    while (true) {
      if (at_op("|")) {
        auto f = make(Expr::Kind::kFilter, take().line);
        f->name = expect_name("a filter name after '|'");
        while (at_op(".")) {
          take();
          f->name += "." + expect_name("a filter name");
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
  bool starts_test_argument() const {
    switch (cur().kind) {
      case K::kName:
        return cur().text != "else" && cur().text != "or" && cur().text != "and" &&
               cur().text != "if" && cur().text != "is" && cur().text != "in" &&
               cur().text != "not";
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

  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace infini::chat_template
