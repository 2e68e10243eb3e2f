// Answers decoded together give what each gives alone: the same text, the
// same streamed deltas and the same finish, whatever joins or leaves the
// batch around them (issue #19). A random model makes arbitrary but
// deterministic text, which is all this needs.
#include "engine/decode_batch.h"

#include <gtest/gtest.h>

#include <memory>

#include "engine/generator.h"
#include "tests/engine/random_model.h"
#include "tests/engine/tiny_model_suite.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

class DecodeBatchTest : public infini::testing::GenerationModelSuite {
 protected:
  static void SetUpTestSuite() {
    set_up(Tokenizer::load(testing::data_dir() + "/tokenizer/tokenizer.model"),
           9, 0.3f);
  }

  // Documents of different lengths, so the members sit at different depths.
  SessionState document(int i) const {
    SessionState s = model_->new_session();
    std::string text = "The pass key is 1234" + std::to_string(i) + ". Remember it.";
    for (int k = 0; k < i; ++k) text += " The grass is green.";
    model_->ingest(s, tokenizer_->encode(text));
    return s;
  }

  static GenerationRequest request(int i) {
    GenerationRequest r;
    r.prompt = tokenizer_->encode("Question " + std::to_string(i) + ": what is the pass key?");
    r.max_tokens = 4 + 3 * i;  // members leave at different steps
    r.ignore_eos = true;
    if (i % 2 == 1) {
      r.sampling.temperature = 0.9f;
      r.sampling.seed = static_cast<uint64_t>(40 + i);
    }
    return r;
  }

  struct Answer {
    GenerationResult result;
    std::string deltas;
  };

  static Answer alone(int i, SessionState state) {
    Answer a;
    a.result = generate(*model_, *tokenizer_, state, request(i), [&](std::string_view t) {
      a.deltas += t;
      return true;
    });
    return a;
  }

};

TEST_F(DecodeBatchTest, AnswersTogetherAreTheAnswersAlone) {
  const int n = 6;
  std::vector<SessionState> states;
  std::vector<std::string> deltas(n);
  std::vector<std::unique_ptr<Generation>> generations;
  for (int i = 0; i < n; ++i) {
    states.push_back(document(i));
    generations.push_back(std::make_unique<Generation>(
        *tokenizer_, request(i), [&deltas, i](std::string_view t) {
          deltas[static_cast<size_t>(i)] += t;
          return true;
        }));
  }
  DecodeBatch batch(*model_);
  for (int i = 0; i < n; ++i) {
    batch.join(&states[static_cast<size_t>(i)], generations[static_cast<size_t>(i)].get());
  }
  while (!batch.empty()) batch.step();
  for (int i = 0; i < n; ++i) {
    const Answer want = alone(i, document(i));
    const GenerationResult& got = generations[static_cast<size_t>(i)]->result();
    EXPECT_EQ(got.text, want.result.text) << "member " << i;
    EXPECT_EQ(deltas[static_cast<size_t>(i)], want.deltas) << "member " << i;
    EXPECT_EQ(got.finish, want.result.finish) << "member " << i;
    EXPECT_EQ(got.generated_tokens, want.result.generated_tokens) << "member " << i;
    EXPECT_EQ(got.generated_tokens, 4 + 3 * i);
  }
}

TEST_F(DecodeBatchTest, MembersJoinLateAndACancelledOneLeavesTheOthersUnchanged) {
  SessionState s0 = document(0), s1 = document(1), s2 = document(2);
  std::string d0, d2;
  int seen1 = 0;
  Generation g0(*tokenizer_, request(4), [&](std::string_view t) {
    d0 += t;
    return true;
  });
  // Cancels on its fifth delta, after g2 has joined (at most three deltas
  // come before: the first token's and two steps').
  Generation g1(*tokenizer_, request(5), [&](std::string_view) { return ++seen1 < 5; });
  Generation g2(*tokenizer_, request(2), [&](std::string_view t) {
    d2 += t;
    return true;
  });
  DecodeBatch batch(*model_);
  ASSERT_TRUE(batch.join(&s0, &g0));
  ASSERT_TRUE(batch.join(&s1, &g1));
  std::vector<Generation*> finished;
  for (int step = 0; step < 2; ++step) {
    for (Generation* g : batch.step()) finished.push_back(g);
  }
  ASSERT_TRUE(batch.join(&s2, &g2));  // joins at the third step
  EXPECT_EQ(batch.size(), 3);
  while (!batch.empty()) {
    for (Generation* g : batch.step()) finished.push_back(g);
  }
  ASSERT_EQ(finished.size(), 3u);
  EXPECT_EQ(finished.front(), &g1) << "the cancelled member leaves first";
  EXPECT_EQ(g1.result().finish, FinishReason::kCancelled);
  EXPECT_EQ(seen1, 5);

  // What the others got is what they get alone, in order g0 (request 4 on
  // document 0) and g2 (request 2 on document 2).
  GenerationRequest r4 = request(4), r2 = request(2);
  SessionState a0 = document(0), a2 = document(2);
  std::string w0, w2;
  auto alone0 = generate(*model_, *tokenizer_, a0, r4, [&](std::string_view t) {
    w0 += t;
    return true;
  });
  auto alone2 = generate(*model_, *tokenizer_, a2, r2, [&](std::string_view t) {
    w2 += t;
    return true;
  });
  EXPECT_EQ(g0.result().text, alone0.text);
  EXPECT_EQ(d0, w0);
  EXPECT_EQ(g2.result().text, alone2.text);
  EXPECT_EQ(d2, w2);
  EXPECT_EQ(s0.tokens(), a0.tokens());
  EXPECT_EQ(s2.tokens(), a2.tokens());
}

TEST_F(DecodeBatchTest, AnAnswerFinishedByItsFirstTokenNeverJoins) {
  SessionState s = document(1);
  GenerationRequest r = request(0);
  r.max_tokens = 1;
  Generation g(*tokenizer_, r, [](std::string_view) { return true; });
  DecodeBatch batch(*model_);
  EXPECT_FALSE(batch.join(&s, &g));
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(g.finished());
  EXPECT_EQ(g.result().finish, FinishReason::kLength);
  EXPECT_EQ(g.result().generated_tokens, 1);
}

TEST_F(DecodeBatchTest, LeaveRemovesAMemberWithoutFinishingIt) {
  SessionState s0 = document(0), s1 = document(1);
  Generation g0(*tokenizer_, request(3), [](std::string_view) { return true; });
  Generation g1(*tokenizer_, request(3), [](std::string_view) { return true; });
  DecodeBatch batch(*model_);
  ASSERT_TRUE(batch.join(&s0, &g0));
  ASSERT_TRUE(batch.join(&s1, &g1));
  batch.leave(&g0);
  batch.leave(&g0);  // no longer a member: nothing happens
  EXPECT_EQ(batch.size(), 1);
  EXPECT_FALSE(g0.finished());
  const int64_t tokens = s0.tokens();
  batch.step();
  EXPECT_EQ(s0.tokens(), tokens) << "a member that left is not read into";
}

}  // namespace
}  // namespace infini
