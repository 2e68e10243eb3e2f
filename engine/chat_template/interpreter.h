// Runs a parsed template: Jinja's scoping (a for loop's body and a macro
// get their own frame, so `set` inside them is local; namespace() objects
// carry values out), the loop object, macros, break/continue, and Python's
// truthiness, comparison and arithmetic rules.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/chat_template/ast.h"
#include "engine/chat_template/value.h"

namespace infini::chat_template {

class Interpreter {
 public:
  // `variables` are the template's context (messages, bos_token, functions
  // such as raise_exception...); namespace(), range() and dict() are added.
  explicit Interpreter(const Object& variables);

  // Throws TemplateError with the line of what failed.
  std::string render(const Body& body);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Frame = std::unordered_map<std::string, Value>;

  Flow exec(const Body& body, std::string& out);
  Flow exec(const Node& node, std::string& out);
  Flow exec_for(const Node& node, std::string& out);
  void exec_set(const Node& node, Value value);
  Value define_macro(const Node& node);

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  Value eval_attribute(const Expr& e);
  Value eval_index(const Expr& e);
  Value eval_slice(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  CallArgs eval_arguments(const Expr& e, size_t first);

  Value lookup(const std::string& name) const;
  void bind(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }

  std::vector<Frame> frames_;
  int macro_depth_ = 0;
  int64_t loop_iterations_ = 0;  // across all loops of the render
};

}  // namespace infini::chat_template
