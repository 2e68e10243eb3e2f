// infini-server on the shipped demo model returns real answers: a passkey
// document streamed in uneven chunks, then asked, gives back its key, as
// text streamed over gRPC; the session's state is the model's fixed size.
#include "engine/prompt_template.h"
#include "tests/e2e/e2e_support.h"
#include "tools/infini/eval_runner.h"
#include "tools/infini/eval_tasks.h"

namespace infini::e2e {
namespace {

TEST(DemoModelServer, AnswersThePasskeyOfAStreamedDocument) {
  const std::string demo = std::string(INFINI_SOURCE_DIR) + "/models/demo";
  auto server = ServerProcess::start({}, demo);
  auto tokenizer = Tokenizer::load(demo + "/tokenizer.model");
  const PromptTemplate prompt = PromptTemplate::load(demo);
  const tool::EvalDocuments documents(tokenizer, prompt.document_prefix, tool::Filler::repeat());

  client::InfiniClient client(server->channel());
  client::GenerationParams greedy;
  greedy.max_tokens = 16;
  int64_t state_bytes = 0;
  // About 6,000 tokens: once with the key just before the question, in its
  // segment (local attention; the document ends 30-50 tokens into a
  // segment), once with it a quarter of the way in, where only the
  // compressive memory holds it.
  for (const auto& [seed, depth] : {std::pair{11u, 1.0}, std::pair{12u, 0.25}}) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", depth " + std::to_string(depth));
    tool::EvalCase c;
    for (int64_t length = 6000; length < 6300; length += 3) {
      tool::EvalRandom random(seed, tool::EvalTask::kPasskey, length, 0);
      c = documents.make_at(tool::EvalTask::kPasskey, length, depth, random);
      const auto ids = tool::encode_document(tokenizer, prompt.document_prefix, c.document);
      const int64_t offset = static_cast<int64_t>(ids.size()) % 64;
      if (offset >= 30 && offset <= 50) break;
    }
    client::IngestOptions ingest;
    ingest.chunk_bytes = 3001;  // cuts inside words and sentences
    const v1::IngestResponse r = client.ingest(c.document, ingest);
    EXPECT_GT(r.session().segments(), 50);
    const client::GenerateResult answer = client.ask(r.session().id(), c.question, greedy);
    EXPECT_EQ(tool::trim_answer(answer.text), c.answer);
    EXPECT_EQ(answer.finish_reason, v1::FINISH_REASON_STOP) << "stops at <end>";
    if (state_bytes == 0) state_bytes = r.session().state_bytes();
    EXPECT_EQ(r.session().state_bytes(), state_bytes) << "fixed, whatever the length";
  }
}

}  // namespace
}  // namespace infini::e2e
