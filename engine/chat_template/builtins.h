// Jinja's global functions that chat templates call: range(), namespace()
// (a mutable object for `{% set ns.x = ... %}`) and dict().
#pragma once

#include "engine/chat_template/value.h"

namespace infini::chat_template {

// name -> function; each throws TemplateFailure for bad arguments.
Object builtin_functions();

}  // namespace infini::chat_template
