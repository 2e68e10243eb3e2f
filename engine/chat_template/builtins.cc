#include "engine/chat_template/builtins.h"

#include <cmath>
#include <string>

namespace infini::chat_template {

namespace {

// A range() bigger than this is refused: no chat template needs it.
constexpr int64_t kMaxRangeItems = 1'000'000;

Value range_function(const CallArgs& args) {
  for (const Value& a : args.positional) {
    if (a.kind() != Value::Kind::kInt) throw TemplateFailure{"range() takes integers"};
  }
  int64_t start = 0, stop = 0, step = 1;
  if (args.positional.size() == 1) {
    stop = args.positional[0].as_int();
  } else if (args.positional.size() == 2 || args.positional.size() == 3) {
    start = args.positional[0].as_int();
    stop = args.positional[1].as_int();
    if (args.positional.size() == 3) step = args.positional[2].as_int();
  } else {
    throw TemplateFailure{"range() takes 1 to 3 arguments"};
  }
  if (step == 0) throw TemplateFailure{"range() step must not be zero"};
  const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) /
                                 static_cast<double>(step));
  if (count > static_cast<double>(kMaxRangeItems)) {
    throw TemplateFailure{"range() of more than " + std::to_string(kMaxRangeItems) + " items"};
  }
  Array out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
  return Value(std::move(out));
}

// namespace(a=1) or namespace({'a': 1}): a mutable object for `set ns.a`.
Value namespace_function(const CallArgs& args) {
  Object o;
  for (const Value& a : args.positional) {
    if (!a.is_object()) throw TemplateFailure{"namespace() takes a dict or keyword arguments"};
    o = a.as_object();
  }
  Value ns = Value::namespace_object(std::move(o));
  for (const auto& [k, v] : args.keywords) ns.set(k, v);
  return ns;
}

Value dict_function(const CallArgs& args) {
  Value d{Object{}};
  for (const Value& a : args.positional) {
    if (!a.is_object()) throw TemplateFailure{"dict() takes a dict or keyword arguments"};
    for (const auto& [k, v] : a.as_object()) d.set(k, v);
  }
  for (const auto& [k, v] : args.keywords) d.set(k, v);
  return d;
}

// Python's slice.indices().

}  // namespace

Object builtin_functions() {
  return {{"range", Value::function(range_function)},
          {"namespace", Value::function(namespace_function)},
          {"dict", Value::function(dict_function)}};
}

}  // namespace infini::chat_template
