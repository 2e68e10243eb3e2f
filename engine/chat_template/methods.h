// Python methods that chat templates call on strings and dicts
// (`content.startswith('<tool_response>')`, `content.split('</think>')[-1]`,
// `message.get('x')`). Lists get none: Hugging Face renders in Jinja's
// immutable sandbox, where `list.append` is refused too.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/chat_template/value.h"

namespace infini::chat_template {

// The method `name` of `receiver` bound to it, or nullopt when it has none.
std::optional<Value> find_method(const Value& receiver, const std::string& name);

// str.strip/lstrip/rstrip: `chars` undefined or none strips Python's whitespace.
enum class StripSide { kBoth, kLeft, kRight };
std::string python_strip(std::string_view s, const Value& chars, StripSide side);

}  // namespace infini::chat_template
