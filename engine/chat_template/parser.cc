#include "engine/chat_template/parser.h"

#include <set>
#include <string>

#include "engine/chat_template/expression_parser.h"
#include "engine/chat_template/template_error.h"

namespace infini::chat_template {

namespace {

using K = Token::Kind;

class Parser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  Body parse_template() {
    std::string stopped_at;
    Body body = parse_body({}, stopped_at);
    return body;
  }

 private:
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
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace infini::chat_template
