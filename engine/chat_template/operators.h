// Python's operators on template values: arithmetic (+ - * / // % ** with
// Python's integer and floor rules, string and list + and *), `in`, and
// slice positions. Each throws TemplateFailure for operands it refuses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/chat_template/value.h"

namespace infini::chat_template {

// The positions a Python slice [start:stop:step] takes of n items; an
// undefined or none part takes its default.
std::vector<size_t> slice_positions(int64_t n, const Value& start, const Value& stop,
                                    const Value& step);
// A number operand (booleans count as 0 and 1); `op` names it in errors.
double number(const Value& v, const std::string& op);
Value arithmetic(const std::string& op, const Value& a, const Value& b);
// `item in container` for strings, lists and dicts; false for undefined.
bool contains(const Value& container, const Value& item);

}  // namespace infini::chat_template
