// The parsed form of a chat template: statements (text, output, if, for,
// set, macro...) holding expressions. Built by the parser, read by the
// interpreter; every node keeps its line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat_template/value.h"

namespace infini::chat_template {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kList,       // [items...]
    kTuple,      // (items...)
    kDict,       // {items[0]: items[1], ...} (keys and values alternate)
    kAttribute,  // items[0].name
    kIndex,      // items[0][items[1]]
    kSlice,      // items[0][items[1]:items[2]:items[3]] (null parts are absent)
    kCall,       // items[0](items[1..], keywords)
    kFilter,     // items[0] | name(items[1..], keywords)
    kTest,       // items[0] is [not] name(items[1..])
    kUnary,      // name ("-", "+", "not") items[0]
    kBinary,     // items[0] name items[1]: + - * / // % ** ~ and or
    kCompare,    // items[0] ops[0] items[1] ops[1] items[2]...: == != < <= > >= in "not in"
    kCondition,  // items[1] if items[0] else items[2] (items[2] may be null)
  };
  Kind kind;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;  // `is not`
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  std::vector<std::string> ops;  // kCompare's operators
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // conditions[i] -> bodies[i]; a last body without condition is the else
    kFor,       // for targets in expr [if filter] body [else else_body]
    kSet,       // set targets = expr (targets[0] may be "ns.attr")
    kSetBlock,  // set targets[0] %} body {% endset
    kBreak,
    kContinue,
    kMacro,  // macro text(params = defaults) body: defines a function
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::string> targets;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // kMacro: name, default (may be null)
};

}  // namespace infini::chat_template
