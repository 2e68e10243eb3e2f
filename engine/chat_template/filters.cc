#include "engine/chat_template/filters.h"

#include <algorithm>
#include <cmath>

#include "engine/chat_template/methods.h"

namespace infini::chat_template {

namespace {

// Jinja's filters read undefined as an empty string where they want text.
std::string text_of(const Value& v) { return v.is_undefined() ? std::string() : v.str(); }

CallArgs shifted(const CallArgs& args, size_t from) {
  CallArgs out;
  if (from < args.positional.size()) {
    out.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(from),
                          args.positional.end());
  }
  out.keywords = args.keywords;
  return out;
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<int64_t>(code_point_count(v.as_string()));
    case Value::Kind::kArray:
      return static_cast<int64_t>(v.as_array().size());
    case Value::Kind::kObject:
      return static_cast<int64_t>(v.as_object().size());
    default:
      throw TemplateFailure{std::string() + v.type_name() + " has no length"};
  }
}

// `attribute` may be dotted ("function.name") or an index.
Value attribute_of(const Value& item, const Value& attribute) {
  if (attribute.kind() == Value::Kind::kInt) {
    const auto i = attribute.as_int();
    return item.is_array() && i >= 0 && i < static_cast<int64_t>(item.as_array().size())
               ? item.as_array()[static_cast<size_t>(i)]
               : Value();
  }
  if (!attribute.is_string()) throw TemplateFailure{"attribute= needs a string"};
  Value v = item;
  const std::string& path = attribute.as_string();
  for (size_t from = 0; from <= path.size();) {
    const size_t dot = std::min(path.find('.', from), path.size());
    v = v.get(path.substr(from, dot - from));
    from = dot + 1;
  }
  return v;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string indent_text(const std::string& s, const Value& width_arg, bool first, bool blank) {
  const std::string pad =
      width_arg.is_string()
          ? width_arg.as_string()
          : std::string(static_cast<size_t>(width_arg.is_undefined() ? 4 : width_arg.as_int()),
                        ' ');
  std::string out;
  size_t from = 0;
  bool first_line = true;
  while (from <= s.size()) {
    const size_t nl = std::min(s.find('\n', from), s.size());
    const std::string line = s.substr(from, nl - from);
    if ((first_line ? first : true) && (blank || !line.empty())) out += pad;
    out += line;
    if (nl == s.size()) break;
    out += '\n';
    from = nl + 1;
    first_line = false;
  }
  return out;
}

Value select(const Value& input, const CallArgs& args, bool keep, bool by_attribute) {
  Array out;
  for (const Value& item : iterate(input)) {
    Value subject = item;
    size_t test_at = 0;
    if (by_attribute) {
      subject = attribute_of(item, args.get(0, "attribute"));
      test_at = 1;
    }
    bool passed;
    const Value test = args.get(test_at, "");
    if (test.is_undefined()) {
      passed = subject.truthy();
    } else {
      if (!test.is_string()) throw TemplateFailure{"select filters need a test name"};
      passed = apply_test(test.as_string(), subject, shifted(args, test_at + 1));
    }
    if (passed == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value map_items(const Value& input, const CallArgs& args) {
  Array out;
  const Value attribute = args.get(99, "attribute");
  for (const Value& item : iterate(input)) {
    if (!attribute.is_undefined()) {
      Value v = attribute_of(item, attribute);
      if (v.is_undefined()) v = args.get(99, "default");
      out.push_back(v);
    } else {
      const Value filter = args.get(0, "");
      if (!filter.is_string()) throw TemplateFailure{"map() needs a filter name or attribute="};
      out.push_back(apply_filter(filter.as_string(), item, shifted(args, 1)));
    }
  }
  return Value(std::move(out));
}

Value sorted(const Value& input, const CallArgs& args) {
  Array items = iterate(input);
  const Value attribute = args.get(2, "attribute");
  const bool reverse = args.get(0, "reverse").truthy();
  const auto key = [&](const Value& v) {
    return attribute.is_undefined() ? v : attribute_of(v, attribute);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? less(key(b), key(a)) : less(key(a), key(b));
  });
  return Value(std::move(items));
}

}  // namespace

Array iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kArray:
      return v.as_array();
    case Value::Kind::kObject: {
      Array keys;
      for (const auto& [k, item] : v.as_object()) keys.emplace_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      Array chars;
      for (auto& cp : code_points(v.as_string())) chars.emplace_back(std::move(cp));
      return chars;
    }
    default:
      throw TemplateFailure{std::string() + v.type_name() + " is not iterable"};
  }
}

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "trim" || name == "strip") {
    return Value(python_strip(text_of(input), args.get(0, "chars"), StripSide::kBoth));
  }
  if (name == "length" || name == "count") return Value(length_of(input));
  if (name == "tojson") {
    const Value indent = args.get(0, "indent");
    Value subject = input;
    if (args.get(99, "sort_keys").truthy() && input.is_object()) {
      Object o = input.as_object();
      std::sort(o.begin(), o.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      subject = Value(std::move(o));
    }
    if (input.is_undefined()) throw TemplateFailure{"tojson of an undefined value"};
    return Value(subject.to_json(
        indent.kind() == Value::Kind::kInt ? static_cast<int>(indent.as_int()) : -1));
  }
  if (name == "string") return Value(text_of(input));
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    return (*find_method(Value(text_of(input)), name)).as_function()(CallArgs{});
  }
  if (name == "replace") {
    return (*find_method(Value(text_of(input)), "replace")).as_function()(args);
  }
  if (name == "default" || name == "d") {
    const bool boolean = args.get(1, "boolean").truthy();
    const bool use_default = boolean ? !input.truthy() : input.is_undefined();
    if (!use_default) return input;
    const Value fallback = args.get(0, "default_value");
    return fallback.is_undefined() ? Value("") : fallback;
  }
  if (name == "join") {
    const Value sep = args.get(0, "d");
    const Value attribute = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(input)) {
      if (!first) out += sep.is_undefined() ? "" : sep.str();
      out += (attribute.is_undefined() ? item : attribute_of(item, attribute)).str();
      first = false;
    }
    return Value(out);
  }
  if (name == "first" || name == "last") {
    const Array items = iterate(input);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value(iterate(input));
  if (name == "reverse") {
    if (input.is_string()) {
      auto cps = code_points(input.as_string());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return Value(out);
    }
    Array items = iterate(input);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "sort") return sorted(input, args);
  if (name == "unique") {
    Array out;
    for (const Value& item : iterate(input)) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& o) { return equal(o, item); })) {
        out.push_back(item);
      }
    }
    return Value(std::move(out));
  }
  if (name == "items") {
    if (input.is_undefined()) return Value(Array{});
    if (!input.is_object()) throw TemplateFailure{std::string("items of ") + input.type_name()};
    Array out;
    for (const auto& [k, v] : input.as_object()) out.emplace_back(Array{Value(k), v});
    return Value(std::move(out));
  }
  if (name == "select" || name == "reject") return select(input, args, name == "select", false);
  if (name == "selectattr" || name == "rejectattr") {
    return select(input, args, name == "selectattr", true);
  }
  if (name == "map") return map_items(input, args);
  if (name == "int") {
    if (input.kind() == Value::Kind::kInt) return input;
    if (input.kind() == Value::Kind::kFloat) return Value(static_cast<int64_t>(input.as_double()));
    if (input.kind() == Value::Kind::kBool) return Value(static_cast<int64_t>(input.as_bool()));
    try {
      if (input.is_string()) return Value(static_cast<int64_t>(std::stoll(input.as_string())));
    } catch (const std::exception&) {
    }
    const Value fallback = args.get(0, "default");
    return fallback.is_undefined() ? Value(int64_t{0}) : fallback;
  }
  if (name == "float") {
    if (input.is_number()) return Value(input.as_double());
    try {
      if (input.is_string()) return Value(std::stod(input.as_string()));
    } catch (const std::exception&) {
    }
    const Value fallback = args.get(0, "default");
    return fallback.is_undefined() ? Value(0.0) : fallback;
  }
  if (name == "abs") {
    if (input.kind() == Value::Kind::kInt)
      return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    if (input.is_number()) return Value(std::fabs(input.as_double()));
    throw TemplateFailure{std::string("abs of ") + input.type_name()};
  }
  if (name == "sum") {
    int64_t i = 0;
    double f = 0.0;
    bool is_float = false;
    for (const Value& item : iterate(input)) {
      if (!item.is_number()) throw TemplateFailure{std::string("sum of ") + item.type_name()};
      is_float = is_float || item.kind() == Value::Kind::kFloat;
      i += item.kind() == Value::Kind::kInt ? item.as_int() : 0;
      f += item.as_double();
    }
    return is_float ? Value(f) : Value(i);
  }
  if (name == "safe") return input;
  if (name == "escape" || name == "e") return Value(html_escape(text_of(input)));
  if (name == "indent") {
    return Value(indent_text(text_of(input), args.get(0, "width"), args.get(1, "first").truthy(),
                             args.get(2, "blank").truthy()));
  }
  throw TemplateFailure{"unsupported filter '" + name + "'"};
}

bool apply_test(const std::string& name, const Value& input, const CallArgs& args) {
  using K = Value::Kind;
  const Value arg = args.get(0, "");
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return input.is_none();
  if (name == "boolean") return input.kind() == K::kBool;
  if (name == "true") return input.kind() == K::kBool && input.as_bool();
  if (name == "false") return input.kind() == K::kBool && !input.as_bool();
  if (name == "integer") return input.kind() == K::kInt;
  if (name == "float") return input.kind() == K::kFloat;
  if (name == "number") return input.is_number();
  if (name == "string") return input.is_string();
  if (name == "mapping") return input.is_object();
  if (name == "iterable" || name == "sequence") {
    return input.is_string() || input.is_array() || input.is_object();
  }
  if (name == "callable") return input.kind() == K::kFunction;
  if (name == "eq" || name == "equalto" || name == "==") return equal(input, arg);
  if (name == "ne" || name == "!=") return !equal(input, arg);
  if (name == "lt" || name == "lessthan" || name == "<") return less(input, arg);
  if (name == "gt" || name == "greaterthan" || name == ">") return less(arg, input);
  if (name == "le" || name == "<=") return !less(arg, input);
  if (name == "ge" || name == ">=") return !less(input, arg);
  if (name == "sameas") {
    return input.kind() == arg.kind() &&
           (input.is_none() || input.is_undefined() || equal(input, arg));
  }
  if (name == "in") {
    const Array items = iterate(arg);
    if (arg.is_string() && input.is_string())
      return arg.as_string().find(input.as_string()) != std::string::npos;
    return std::any_of(items.begin(), items.end(), [&](const Value& v) { return equal(v, input); });
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (input.kind() != K::kInt) throw TemplateFailure{"'" + name + "' tests an integer"};
    if (name == "divisibleby") {
      if (arg.kind() != K::kInt || arg.as_int() == 0)
        throw TemplateFailure{"divisibleby needs a nonzero integer"};
      return input.as_int() % arg.as_int() == 0;
    }
    return (input.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "lower" || name == "upper") {
    if (!input.is_string()) return false;
    const std::string& s = input.as_string();
    return std::none_of(s.begin(), s.end(), [&](char c) {
      return name == "lower" ? std::isupper(static_cast<unsigned char>(c)) != 0
                             : std::islower(static_cast<unsigned char>(c)) != 0;
    });
  }
  throw TemplateFailure{"unsupported test '" + name + "'"};
}

}  // namespace infini::chat_template
