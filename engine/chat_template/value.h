// The values a chat template computes with: Jinja's (that is, Python's) data
// model cut down to what chat templates use. Lists, dicts and namespaces are
// shared by reference, as in Python, so `{% set ns.x = 1 %}` changes the
// namespace every name for it sees.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infini::chat_template {

class Value;
struct CallArgs;

using Array = std::vector<Value>;
// Insertion-ordered, as Python dicts are (tojson and `items` follow it).
using Object = std::vector<std::pair<std::string, Value>>;
// A global function (namespace, range, raise_exception, strftime_now...).
// Throws TemplateFailure for bad arguments.
using Function = std::function<Value(const CallArgs&)>;

// Thrown by values, filters and functions for what the template got wrong;
// the interpreter adds the template's origin and line.
struct TemplateFailure {
  std::string what;
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };

  Value() = default;  // undefined
  static Value none();
  Value(bool b);                                    // NOLINT: literals read naturally
  Value(int64_t i);                                 // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double f);                                  // NOLINT
  Value(std::string s);                             // NOLINT
  Value(const char* s) : Value(std::string(s)) {}   // NOLINT
  Value(Array a);                                   // NOLINT
  Value(Object o);                                  // NOLINT
  static Value function(Function f);
  // A namespace(): an object whose attributes `set` may assign.
  static Value namespace_object(Object o);
  static Value from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_namespace() const { return kind_ == Kind::kObject && namespace_; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_double() const { return kind_ == Kind::kInt ? static_cast<double>(int_) : float_; }
  const std::string& as_string() const { return *string_; }
  const Array& as_array() const { return *array_; }
  Array& mutable_array() const { return *array_; }
  const Object& as_object() const { return *object_; }
  Object& mutable_object() const { return *object_; }
  const Function& as_function() const { return *function_; }

  // Python truthiness: undefined, none, false, 0, "", [] and {} are false.
  bool truthy() const;
  // Python's str(): what `{{ value }}` prints (undefined prints nothing).
  std::string str() const;
  // Python's repr(), used inside printed lists and dicts.
  std::string repr() const;
  // json.dumps(value, ensure_ascii=False, indent=indent), as transformers' tojson.
  std::string to_json(int indent = -1) const;
  // The type with its article for error messages ("a string", "an integer").
  const char* type_name() const;

  // Object key lookup; undefined when absent (or not an object).
  Value get(std::string_view key) const;
  // Assigns or adds `key` (objects only).
  void set(const std::string& key, Value v) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool bool_ = false;
  bool namespace_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
  std::shared_ptr<const Function> function_;
};

// Python ==: numbers compare by value, other kinds only with their own kind.
bool equal(const Value& a, const Value& b);
// Python <: numbers with numbers, strings with strings (by code point);
// throws TemplateFailure for other pairs.
bool less(const Value& a, const Value& b);

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
  // The argument at `index` or named `name`; undefined when neither was given.
  Value get(size_t index, std::string_view name) const;
};

// UTF-8 helpers: Python indexes strings by code point, not byte.
std::vector<std::string> code_points(std::string_view s);
size_t code_point_count(std::string_view s);

}  // namespace infini::chat_template
