// Generation with a Hugging Face byte-level tokenizer: a byte-level token may
// carry part of a UTF-8 character, so the generator must hold back text that
// ends inside one (the tokenizer decodes it as one trailing U+FFFD) until the next
// token completes it; special tokens decode to nothing. A random model over the
// SmolLM2-style file (431 tokens, 128 of them bytes >= 0x80) writes text full of
// split and broken characters: every delta must be whole UTF-8 and the deltas
// together the final text.
#include <gtest/gtest.h>

#include <map>

#include "engine/checkpoint_writer.h"
#include "engine/generator.h"
#include "engine/utf8_text.h"
#include "tests/engine/random_model.h"
#include "tests/engine/tiny_model_suite.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

class TokenizerGenerationTest : public infini::testing::GenerationModelSuite {
 protected:
  static void SetUpTestSuite() {
    set_up(Tokenizer::load_from_model_dir(testing::data_dir() + "/tokenizer/smollm2_style"),
           5, 1.0f);
  }

};

TEST_F(TokenizerGenerationTest, DeltasAreWholeCharactersAndMakeTheText) {
  size_t replacements = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SessionState state = model_->new_session();
    GenerationRequest request;
    request.prompt = tokenizer_->encode("caf\xC3\xA9 \xF0\x9F\x98\x80 says:");
    request.max_tokens = 64;
    request.ignore_eos = true;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = seed;
    std::string streamed;
    const auto result = generate(*model_, *tokenizer_, state, request, [&](std::string_view delta) {
      EXPECT_TRUE(utf8::is_valid(delta)) << "seed " << seed;
      streamed += delta;
      return true;
    });
    EXPECT_EQ(streamed, result.text) << "seed " << seed;
    EXPECT_TRUE(utf8::is_valid(result.text));
    for (size_t pos = result.text.find("\xEF\xBF\xBD"); pos != std::string::npos;
         pos = result.text.find("\xEF\xBF\xBD", pos + 1)) {
      ++replacements;
    }
    // Special tokens (<|endoftext|>, <|im_start|>, <|im_end|>) decode to nothing.
    EXPECT_EQ(result.text.find("<|"), std::string::npos) << result.text;
  }
  // The random model does write broken characters: the test saw the hard case.
  EXPECT_GT(replacements, 0u);
}

}  // namespace
}  // namespace infini
