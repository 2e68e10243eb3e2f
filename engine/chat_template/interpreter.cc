#include "engine/chat_template/interpreter.h"

#include <algorithm>
#include <cmath>

#include "engine/chat_template/builtins.h"
#include "engine/chat_template/filters.h"
#include "engine/chat_template/methods.h"
#include "engine/chat_template/operators.h"
#include "engine/chat_template/template_error.h"

namespace infini::chat_template {

namespace {

// Bounds that keep a hostile or broken template from taking the process down.
constexpr int kMaxMacroDepth = 64;
constexpr int64_t kMaxLoopIterations = 1'000'000;
constexpr size_t kMaxOutputBytes = 64u << 20;

// The expression as the template wrote it, for errors: messages[...].role.
std::string path_of(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kName:
      return e.name;
    case Expr::Kind::kAttribute:
      return path_of(*e.items[0]) + "." + e.name;
    case Expr::Kind::kIndex:
      return path_of(*e.items[0]) + "[...]";
    case Expr::Kind::kCall:
      return path_of(*e.items[0]) + "()";
    case Expr::Kind::kFilter:
      return path_of(*e.items[0]) + "|" + e.name;
    case Expr::Kind::kLiteral:
      return e.literal.repr();
    default:
      return "(...)";
  }
}

// Quoted unless the path quotes a literal itself.
std::string describe(const Expr& e) {
  const std::string path = path_of(e);
  return path.find_first_of("'\"") == std::string::npos ? "'" + path + "'" : path;
}

bool is_dict_method(const std::string& name) {
  return name == "get" || name == "items" || name == "keys" || name == "values";
}

}  // namespace

Interpreter::Interpreter(const Object& variables) {
  frames_.emplace_back();
  Frame& root = frames_.back();
  for (auto& [name, function] : builtin_functions()) root[name] = std::move(function);
  for (const auto& [k, v] : variables) root[k] = v;
}

std::string Interpreter::render(const Body& body) {
  std::string out;
  exec(body, out);  // break/continue outside a loop are refused by Jinja's parser; ignored here
  return out;
}

Interpreter::Flow Interpreter::exec(const Body& body, std::string& out) {
  for (const auto& node : body) {
    const Flow flow = exec(*node, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Node& node, std::string& out) {
  switch (node.kind) {
    case Node::Kind::kText:
      out += node.text;
      return Flow::kNormal;
    case Node::Kind::kOutput:
      out += eval(*node.expr).str();
      return Flow::kNormal;
    case Node::Kind::kIf:
      for (size_t i = 0; i < node.bodies.size(); ++i) {
        if (i >= node.conditions.size() || eval(*node.conditions[i]).truthy()) {
          return exec(node.bodies[i], out);
        }
      }
      return Flow::kNormal;
    case Node::Kind::kFor:
      return exec_for(node, out);
    case Node::Kind::kSet:
      exec_set(node, eval(*node.expr));
      return Flow::kNormal;
    case Node::Kind::kSetBlock: {
      std::string captured;
      exec(node.body, captured);
      exec_set(node, Value(captured));
      return Flow::kNormal;
    }
    case Node::Kind::kBreak:
      return Flow::kBreak;
    case Node::Kind::kContinue:
      return Flow::kContinue;
    case Node::Kind::kMacro:
      bind(node.text, define_macro(node));
      return Flow::kNormal;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Node& node, std::string& out) {
  Array items;
  try {
    items = iterate(eval(*node.expr));
  } catch (const TemplateFailure& f) {
    throw TemplateError{node.line, "for loop over " + describe(*node.expr) + ": " + f.what};
  }
  const auto bind_targets = [&](const Value& item) {
    if (node.targets.size() == 1) {
      bind(node.targets[0], item);
      return;
    }
    if (!item.is_array() || item.as_array().size() != node.targets.size()) {
      throw TemplateError{node.line, "cannot unpack " + std::string(item.type_name()) + " into " +
                                         std::to_string(node.targets.size()) + " loop variables"};
    }
    for (size_t i = 0; i < node.targets.size(); ++i) bind(node.targets[i], item.as_array()[i]);
  };
  if (node.filter) {  // `for x in xs if cond`: loop.length counts what passes
    Array kept;
    for (const Value& item : items) {
      frames_.emplace_back();
      bind_targets(item);
      const bool keep = eval(*node.filter).truthy();
      frames_.pop_back();
      if (keep) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(node.else_body, out);
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    if (++loop_iterations_ > kMaxLoopIterations) {
      throw TemplateError{node.line, "more than " + std::to_string(kMaxLoopIterations) +
                                         " loop iterations in one render"};
    }
    if (out.size() > kMaxOutputBytes) {
      throw TemplateError{node.line,
                          "the render passed " + std::to_string(kMaxOutputBytes >> 20) + " MiB"};
    }
    frames_.emplace_back();
    bind_targets(items[static_cast<size_t>(i)]);
    Object loop{{"index", Value(i + 1)},
                {"index0", Value(i)},
                {"revindex", Value(n - i)},
                {"revindex0", Value(n - i - 1)},
                {"first", Value(i == 0)},
                {"last", Value(i == n - 1)},
                {"length", Value(n)},
                {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value()},
                {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value()}};
    loop.emplace_back("cycle", Value::function([i](const CallArgs& args) {
                        if (args.positional.empty())
                          throw TemplateFailure{"loop.cycle() needs arguments"};
                        return args.positional[static_cast<size_t>(i) % args.positional.size()];
                      }));
    bind("loop", Value(std::move(loop)));
    const Flow flow = exec(node.body, out);
    frames_.pop_back();
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const Node& node, Value value) {
  const std::string& target = node.targets[0];
  const size_t dot = target.find('.');
  if (dot != std::string::npos) {
    const Value ns = lookup(target.substr(0, dot));
    if (!ns.is_namespace()) {
      throw TemplateError{node.line, "cannot set '" + target + "': '" + target.substr(0, dot) +
                                         "' is not a namespace()"};
    }
    ns.set(target.substr(dot + 1), std::move(value));
    return;
  }
  if (node.targets.size() == 1) {
    bind(target, std::move(value));
    return;
  }
  if (!value.is_array() || value.as_array().size() != node.targets.size()) {
    throw TemplateError{node.line, "cannot unpack the value into " +
                                       std::to_string(node.targets.size()) + " names"};
  }
  for (size_t i = 0; i < node.targets.size(); ++i) bind(node.targets[i], value.as_array()[i]);
}

Value Interpreter::define_macro(const Node& node) {
  // The macro sees the template's top-level names, its arguments and
  // nothing of its caller's loop variables, as in Jinja.
  return Value::function([this, &node](const CallArgs& args) {
    if (macro_depth_ >= kMaxMacroDepth) {
      throw TemplateFailure{"macro '" + node.text + "' nested deeper than " +
                            std::to_string(kMaxMacroDepth)};
    }
    if (args.positional.size() > node.params.size()) {
      throw TemplateFailure{"macro '" + node.text + "' takes " +
                            std::to_string(node.params.size()) + " arguments, got " +
                            std::to_string(args.positional.size())};
    }
    std::vector<Frame> saved;
    saved.swap(frames_);
    frames_.push_back(saved.front());
    frames_.emplace_back();
    ++macro_depth_;
    std::string out;
    try {
      for (size_t i = 0; i < node.params.size(); ++i) {
        Value v = args.get(i, node.params[i].first);
        if (v.is_undefined() && node.params[i].second) v = eval(*node.params[i].second);
        bind(node.params[i].first, v);
      }
      exec(node.body, out);
    } catch (...) {
      --macro_depth_;
      frames_.swap(saved);
      throw;
    }
    --macro_depth_;
    frames_.swap(saved);
    return Value(out);
  });
}

Value Interpreter::lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    const auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  return Value();
}

Value Interpreter::eval(const Expr& e) {
  try {
    return eval_inner(e);
  } catch (const TemplateFailure& f) {
    throw TemplateError{e.line, f.what};
  }
}

CallArgs Interpreter::eval_arguments(const Expr& e, size_t first) {
  CallArgs args;
  for (size_t i = first; i < e.items.size(); ++i) args.positional.push_back(eval(*e.items[i]));
  for (const auto& [k, v] : e.keywords) args.keywords.emplace_back(k, eval(*v));
  return args;
}

Value Interpreter::eval_inner(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kName:
      return lookup(e.name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      Array items;
      for (const auto& item : e.items) items.push_back(eval(*item));
      return Value(std::move(items));
    }
    case Expr::Kind::kDict: {
      Value d{Object{}};
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        const Value key = eval(*e.items[i]);
        d.set(key.str(), eval(*e.items[i + 1]));
      }
      return d;
    }
    case Expr::Kind::kAttribute:
      return eval_attribute(e);
    case Expr::Kind::kIndex:
      return eval_index(e);
    case Expr::Kind::kSlice:
      return eval_slice(e);
    case Expr::Kind::kCall:
      return eval_call(e);
    case Expr::Kind::kFilter:
      return apply_filter(e.name, eval(*e.items[0]), eval_arguments(e, 1));
    case Expr::Kind::kTest: {
      const bool result = apply_test(e.name, eval(*e.items[0]), eval_arguments(e, 1));
      return Value(result != e.negated);
    }
    case Expr::Kind::kUnary: {
      const Value v = eval(*e.items[0]);
      if (e.name == "not") return Value(!v.truthy());
      if (e.name == "-") {
        if (v.kind() == Value::Kind::kInt) return Value(-v.as_int());
        return Value(-number(v, "unary -"));
      }
      number(v, "unary +");
      return v;
    }
    case Expr::Kind::kBinary:
      return eval_binary(e);
    case Expr::Kind::kCompare:
      return eval_compare(e);
    case Expr::Kind::kCondition: {
      if (eval(*e.items[0]).truthy()) return eval(*e.items[1]);
      return e.items[2] ? eval(*e.items[2]) : Value();
    }
  }
  return Value();
}

Value Interpreter::eval_attribute(const Expr& e) {
  const Value target = eval(*e.items[0]);
  if (target.is_undefined()) {
    throw TemplateFailure{describe(*e.items[0]) + " is undefined (reading ." + e.name + ")"};
  }
  // Jinja tries Python's getattr first: a dict's methods win over its keys.
  if (target.is_object() && !target.is_namespace() && is_dict_method(e.name)) {
    return *find_method(target, e.name);
  }
  if (target.is_object()) return target.get(e.name);
  if (auto method = find_method(target, e.name)) return *method;
  return Value();
}

Value Interpreter::eval_index(const Expr& e) {
  const Value target = eval(*e.items[0]);
  const Value key = eval(*e.items[1]);
  if (target.is_undefined())
    throw TemplateFailure{describe(*e.items[0]) + " is undefined (reading [" + key.repr() + "])"};
  if (target.is_object()) {
    if (!key.is_string()) return Value();
    const Value v = target.get(key.as_string());
    if (v.is_undefined() && !target.is_namespace() && is_dict_method(key.as_string())) {
      return *find_method(target, key.as_string());
    }
    return v;
  }
  if ((target.is_array() || target.is_string()) && (key.kind() == Value::Kind::kInt)) {
    const int64_t n = target.is_array()
                          ? static_cast<int64_t>(target.as_array().size())
                          : static_cast<int64_t>(code_point_count(target.as_string()));
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value();
    if (target.is_array()) return target.as_array()[static_cast<size_t>(i)];
    return Value(code_points(target.as_string())[static_cast<size_t>(i)]);
  }
  if (target.is_string() && key.is_string()) {
    if (auto method = find_method(target, key.as_string())) return *method;
  }
  return Value();
}

Value Interpreter::eval_slice(const Expr& e) {
  const Value target = eval(*e.items[0]);
  const auto part = [&](size_t i) { return e.items[i] ? eval(*e.items[i]) : Value(); };
  const Value start = part(1), stop = part(2), step = part(3);
  if (target.is_array()) {
    Array out;
    for (size_t i :
         slice_positions(static_cast<int64_t>(target.as_array().size()), start, stop, step)) {
      out.push_back(target.as_array()[i]);
    }
    return Value(std::move(out));
  }
  if (target.is_string()) {
    const auto cps = code_points(target.as_string());
    std::string out;
    for (size_t i : slice_positions(static_cast<int64_t>(cps.size()), start, stop, step))
      out += cps[i];
    return Value(out);
  }
  if (target.is_undefined())
    throw TemplateFailure{describe(*e.items[0]) + " is undefined (slicing it)"};
  throw TemplateFailure{std::string("cannot slice ") + target.type_name()};
}

Value Interpreter::eval_call(const Expr& e) {
  const Value callee = eval(*e.items[0]);
  if (callee.kind() != Value::Kind::kFunction) {
    if (callee.is_undefined())
      throw TemplateFailure{describe(*e.items[0]) + " is undefined (calling it)"};
    throw TemplateFailure{describe(*e.items[0]) + " is " + std::string(callee.type_name()) +
                          ", not a function"};
  }
  return callee.as_function()(eval_arguments(e, 1));
}

Value Interpreter::eval_binary(const Expr& e) {
  const Value left = eval(*e.items[0]);
  if (e.name == "and") return left.truthy() ? eval(*e.items[1]) : left;
  if (e.name == "or") return left.truthy() ? left : eval(*e.items[1]);
  const Value right = eval(*e.items[1]);
  if (e.name == "~") return Value(left.str() + right.str());
  return arithmetic(e.name, left, right);
}

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.items[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.items[i + 1]);
    const std::string& op = e.ops[i];
    bool ok;
    if (op == "==")
      ok = equal(left, right);
    else if (op == "!=")
      ok = !equal(left, right);
    else if (op == "<")
      ok = less(left, right);
    else if (op == ">")
      ok = less(right, left);
    else if (op == "<=")
      ok = !less(right, left);
    else if (op == ">=")
      ok = !less(left, right);
    else if (op == "in")
      ok = contains(right, left);
    else
      ok = !contains(right, left);  // not in
    if (!ok) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

}  // namespace infini::chat_template
