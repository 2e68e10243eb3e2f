// Jinja's filters (`x | trim`, `tools | tojson(indent=4)`) and tests
// (`x is defined`, `x is not none`) that chat templates use, with
// transformers' tojson (json.dumps, ensure_ascii off).
#pragma once

#include <string>

#include "engine/chat_template/value.h"

namespace infini::chat_template {

// Throws TemplateFailure for an unknown filter or bad arguments.
Value apply_filter(const std::string& name, const Value& input, const CallArgs& args);
// Throws TemplateFailure for an unknown test.
bool apply_test(const std::string& name, const Value& input, const CallArgs& args);

// Iterating as Python does: a list's items, a dict's keys, a string's code
// points, nothing for undefined. Throws TemplateFailure for anything else.
Array iterate(const Value& v);

}  // namespace infini::chat_template
