// The parser's view of the token stream: where it is, what comes next,
// errors that name the line, and a bound on how deep parsing recurses.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "engine/chat_template/lexer.h"
#include "engine/chat_template/template_error.h"

namespace infini::chat_template {

class TokenCursor {
 public:
  explicit TokenCursor(const std::vector<Token>& tokens) : t_(tokens) {}

  // Nesting deeper than this (brackets, unary operators, blocks) is refused
  // rather than recursed into: no template needs it, and the stack is finite.
  static constexpr int kMaxDepth = 200;

 protected:
  using K = Token::Kind;

  // Counts one level of recursion for as long as it lives.
  class Nesting {
   public:
    explicit Nesting(TokenCursor& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        throw TemplateError{p_.cur().line,
                            "nested more than " + std::to_string(kMaxDepth) + " levels deep"};
      }
    }
    ~Nesting() { --p_.depth_; }

   private:
    TokenCursor& p_;
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

 private:
  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace infini::chat_template
