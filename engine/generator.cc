#include "engine/generator.h"

namespace infini {

GenerationResult generate(const Model& model, const Tokenizer& tokenizer, SessionState& state,
                          const GenerationRequest& request, const TextSink& on_text) {
  Generation generation(tokenizer, request, on_text);
  std::vector<float> logits = model.logits_last(state, request.prompt);
  while (generation.advance(logits)) {
    const int32_t next = generation.next_token();
    logits = model.logits_last(state, std::span<const int32_t>(&next, 1));
  }
  return generation.result();
}

}  // namespace infini
