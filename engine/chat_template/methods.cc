#include "engine/chat_template/methods.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace infini::chat_template {

namespace {

uint32_t decode(std::string_view c) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(c[i])); };
  if (c.size() == 1) return b(0);
  if (c.size() == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (c.size() == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

// Python's str.isspace for one code point.
bool python_space(std::string_view c) {
  const uint32_t cp = decode(c);
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string need_string(const Value& v, const char* method, const char* what) {
  if (!v.is_string()) {
    throw TemplateFailure{std::string(method) + "() needs a string " + what + ", got " +
                          v.type_name()};
  }
  return v.as_string();
}

// Python's str.split(sep, maxsplit); sep none splits on whitespace runs.
Value split(const std::string& s, const Value& sep, int64_t maxsplit) {
  Array out;
  if (sep.is_undefined() || sep.is_none()) {
    const auto cps = code_points(s);
    size_t i = 0;
    while (true) {
      while (i < cps.size() && python_space(cps[i])) ++i;
      if (i == cps.size()) break;
      std::string word;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        for (; i < cps.size(); ++i) word += cps[i];  // the rest as it is, trailing spaces too
        out.emplace_back(std::move(word));
        break;
      }
      while (i < cps.size() && !python_space(cps[i])) word += cps[i++];
      out.emplace_back(std::move(word));
    }
    return Value(std::move(out));
  }
  const std::string delim = need_string(sep, "split", "separator");
  if (delim.empty()) throw TemplateFailure{"split(): empty separator"};
  size_t from = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    const size_t at = s.find(delim, from);
    if (at == std::string::npos) break;
    out.emplace_back(s.substr(from, at - from));
    from = at + delim.size();
  }
  out.emplace_back(s.substr(from));
  return Value(std::move(out));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  if (affix.is_array()) {  // str.startswith(('a', 'b'))
    return std::any_of(affix.as_array().begin(), affix.as_array().end(),
                       [&](const Value& a) { return affix_matches(s, a, prefix); });
  }
  const std::string a = need_string(affix, prefix ? "startswith" : "endswith", "or tuple");
  if (a.size() > s.size()) return false;
  return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
}

std::string map_ascii(std::string s, int (*f)(int)) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x80)
      c = static_cast<char>(f(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string title_case(const std::string& s) {
  std::string out = s;
  bool word_start = true;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(word_start ? std::toupper(u) : std::tolower(u));
      word_start = false;
    } else {
      word_start = u < 0x80;  // any non-letter starts a new word, as in Python
    }
  }
  return out;
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& now,
                        int64_t count) {
  std::string out;
  size_t from = 0;
  int64_t done = 0;
  if (old.empty()) {
    // Python inserts `now` between code points and at both ends.
    for (const auto& cp : code_points(s)) {
      if (count < 0 || done++ < count) out += now;
      out += cp;
    }
    if (count < 0 || done < count) out += now;
    return out;
  }
  while (count < 0 || done < count) {
    const size_t at = s.find(old, from);
    if (at == std::string::npos) break;
    out.append(s, from, at - from);
    out += now;
    from = at + old.size();
    ++done;
  }
  return out + s.substr(from);
}

Value string_method(const std::string& s, const std::string& name, const CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    return Value(affix_matches(s, args.get(0, "prefix"), name == "startswith"));
  }
  if (name == "strip") return Value(python_strip(s, args.get(0, "chars"), StripSide::kBoth));
  if (name == "lstrip") return Value(python_strip(s, args.get(0, "chars"), StripSide::kLeft));
  if (name == "rstrip") return Value(python_strip(s, args.get(0, "chars"), StripSide::kRight));
  if (name == "split") {
    const Value max = args.get(1, "maxsplit");
    return split(s, args.get(0, "sep"), max.kind() == Value::Kind::kInt ? max.as_int() : -1);
  }
  if (name == "lower") return Value(map_ascii(s, [](int c) { return std::tolower(c); }));
  if (name == "upper") return Value(map_ascii(s, [](int c) { return std::toupper(c); }));
  if (name == "title") return Value(title_case(s));
  if (name == "capitalize") {
    std::string out = map_ascii(s, [](int c) { return std::tolower(c); });
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return Value(out);
  }
  if (name == "replace") {
    const Value count = args.get(2, "count");
    return Value(replace_all(s, need_string(args.get(0, "old"), "replace", "argument"),
                             need_string(args.get(1, "new"), "replace", "argument"),
                             count.kind() == Value::Kind::kInt ? count.as_int() : -1));
  }
  if (name == "find") {
    const size_t at = s.find(need_string(args.get(0, "sub"), "find", "argument"));
    return Value(at == std::string::npos ? int64_t{-1}
                                         : static_cast<int64_t>(code_point_count(s.substr(0, at))));
  }
  if (name == "count") {
    const std::string sub = need_string(args.get(0, "sub"), "count", "argument");
    if (sub.empty()) return Value(static_cast<int64_t>(code_point_count(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    const Value items = args.get(0, "iterable");
    if (!items.is_array()) throw TemplateFailure{"join() needs a list"};
    std::string out;
    for (size_t i = 0; i < items.as_array().size(); ++i) {
      if (i > 0) out += s;
      out += need_string(items.as_array()[i], "join", "in the list");
    }
    return Value(out);
  }
  const auto cps = code_points(s);
  if (name == "isspace") {
    return Value(!cps.empty() && std::all_of(cps.begin(), cps.end(), python_space));
  }
  if (name == "isdigit") {
    return Value(!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    }));
  }
  throw TemplateFailure{"unsupported string method '" + name + "'"};
}

Value dict_method(const Value& dict, const std::string& name, const CallArgs& args) {
  if (name == "get") {
    const Value key = args.get(0, "key");
    const Value found = key.is_string() ? dict.get(key.as_string()) : Value();
    if (!found.is_undefined()) return found;
    const Value fallback = args.get(1, "default");
    return fallback.is_undefined() ? Value::none() : fallback;
  }
  Array out;
  for (const auto& [k, v] : dict.as_object()) {
    if (name == "items") out.emplace_back(Array{Value(k), v});
    if (name == "keys") out.emplace_back(k);
    if (name == "values") out.push_back(v);
  }
  return Value(std::move(out));
}

const char* const kStringMethods[] = {
    "startswith", "endswith",   "strip",   "lstrip", "rstrip", "split", "lower",   "upper",
    "title",      "capitalize", "replace", "find",   "count",  "join",  "isspace", "isdigit"};
const char* const kDictMethods[] = {"get", "items", "keys", "values"};

}  // namespace

std::string python_strip(std::string_view s, const Value& chars, StripSide side) {
  const auto cps = code_points(s);
  std::vector<std::string> set;
  const bool whitespace = chars.is_undefined() || chars.is_none();
  if (!whitespace) set = code_points(need_string(chars, "strip", "of characters"));
  const auto strippable = [&](const std::string& cp) {
    return whitespace ? python_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strippable(cps[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strippable(cps[end - 1])) --end;
  }
  std::string out;
  for (size_t i = begin; i < end; ++i) out += cps[i];
  return out;
}

std::optional<Value> find_method(const Value& receiver, const std::string& name) {
  if (receiver.is_string()) {
    if (std::find(std::begin(kStringMethods), std::end(kStringMethods), name) ==
        std::end(kStringMethods)) {
      return std::nullopt;
    }
    const std::string s = receiver.as_string();
    return Value::function(
        [s, name](const CallArgs& args) { return string_method(s, name, args); });
  }
  if (receiver.is_object() && !receiver.is_namespace()) {
    if (std::find(std::begin(kDictMethods), std::end(kDictMethods), name) ==
        std::end(kDictMethods)) {
      return std::nullopt;
    }
    return Value::function(
        [receiver, name](const CallArgs& args) { return dict_method(receiver, name, args); });
  }
  return std::nullopt;
}

}  // namespace infini::chat_template
