// Generation of one answer on its own: feeds the prompt into a forked
// session state, then reads each sampled token back in, until a stop
// string, end of text or the token limit (generation.h holds the rules).
#pragma once

#include "engine/generation.h"
#include "engine/model.h"
#include "engine/session_state.h"
#include "engine/tokenizer.h"

namespace infini {

// `on_text` receives each new piece of text; returning false cancels.
GenerationResult generate(const Model& model, const Tokenizer& tokenizer, SessionState& state,
                          const GenerationRequest& request, const TextSink& on_text);

}  // namespace infini
