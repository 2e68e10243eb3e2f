#include "engine/chat_template/operators.h"

#include <algorithm>
#include <cmath>

namespace infini::chat_template {

namespace {

bool integral(const Value& v) {
  return v.kind() == Value::Kind::kInt || v.kind() == Value::Kind::kBool;
}
int64_t integer(const Value& v) {
  return v.kind() == Value::Kind::kBool ? v.as_bool() : v.as_int();
}

}  // namespace

std::vector<size_t> slice_positions(int64_t n, const Value& start_v, const Value& stop_v,
                                    const Value& step_v) {
  const auto as_int = [](const Value& v, const char* what) {
    if (v.kind() != Value::Kind::kInt)
      throw TemplateFailure{std::string("slice ") + what + " must be an integer"};
    return v.as_int();
  };
  const int64_t step = step_v.is_undefined() || step_v.is_none() ? 1 : as_int(step_v, "step");
  if (step == 0) throw TemplateFailure{"slice step must not be zero"};
  const auto bound = [&](const Value& v, int64_t fallback) {
    if (v.is_undefined() || v.is_none()) return fallback;
    int64_t i = as_int(v, "bound");
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t start = bound(start_v, step > 0 ? 0 : n - 1);
  const int64_t stop = bound(stop_v, step > 0 ? n : -1);
  std::vector<size_t> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
    out.push_back(static_cast<size_t>(i));
  return out;
}

double number(const Value& v, const std::string& op) {
  if (v.kind() == Value::Kind::kBool) return v.as_bool() ? 1.0 : 0.0;
  if (!v.is_number()) throw TemplateFailure{"unsupported operand for " + op + ": " + v.type_name()};
  return v.as_double();
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) {
    throw TemplateFailure{"an undefined value in '" + op + "'"};
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_array() && b.is_array()) {
      Array out = a.as_array();
      out.insert(out.end(), b.as_array().begin(), b.as_array().end());
      return Value(std::move(out));
    }
    if (a.is_string() || b.is_string()) {
      throw TemplateFailure{std::string("cannot add ") + a.type_name() + " and " + b.type_name() +
                            " (use ~ or the string filter)"};
    }
  }
  if (op == "*" && (a.is_string() || b.is_string())) {
    const Value& s = a.is_string() ? a : b;
    const Value& n = a.is_string() ? b : a;
    if (!integral(n))
      throw TemplateFailure{"a string can only be repeated an integer number of times"};
    std::string out;
    for (int64_t i = 0; i < integer(n) && out.size() < (1u << 24); ++i) out += s.as_string();
    return Value(out);
  }
  const double x = number(a, op), y = number(b, op);
  const bool ints = integral(a) && integral(b);
  if (op == "+") return ints ? Value(integer(a) + integer(b)) : Value(x + y);
  if (op == "-") return ints ? Value(integer(a) - integer(b)) : Value(x - y);
  if (op == "*") return ints ? Value(integer(a) * integer(b)) : Value(x * y);
  if (op == "/") {
    if (y == 0) throw TemplateFailure{"division by zero"};
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) throw TemplateFailure{op == "//" ? "integer division by zero" : "modulo by zero"};
    if (ints) {
      const int64_t p = integer(a), q = integer(b);
      int64_t quotient = p / q, rest = p % q;
      if (rest != 0 && ((rest < 0) != (q < 0))) --quotient, rest += q;  // Python floors
      return op == "//" ? Value(quotient) : Value(rest);
    }
    const double quotient = std::floor(x / y);
    return op == "//" ? Value(quotient) : Value(x - quotient * y);
  }
  if (op == "**") {
    if (ints && integer(b) >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < integer(b); ++i) r *= integer(a);
      return Value(r);
    }
    return Value(std::pow(x, y));
  }
  throw TemplateFailure{"unknown operator '" + op + "'"};
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string())
        throw TemplateFailure{std::string("'in <string>' needs a string, got ") + item.type_name()};
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& v : container.as_array()) {
        if (equal(v, item)) return true;
      }
      return false;
    case Value::Kind::kObject:
      return item.is_string() && !container.get(item.as_string()).is_undefined();
    default:
      throw TemplateFailure{std::string("'in' needs a string, list or dict, got ") +
                            container.type_name()};
  }
}

}  // namespace infini::chat_template
