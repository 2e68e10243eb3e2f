#include "engine/document_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/error.h"
#include "tests/engine/tiny_model_suite.h"

namespace infini {
namespace {

class DocumentReaderTest : public infini::testing::TinyModelSuite {
 protected:
  static DocumentReader fresh() { return DocumentReader(tokenizer_, model_->new_session()); }

  // Everything a reader holds, for comparing two of them.
  static std::string fingerprint(const DocumentReader& r) {
    std::string out;
    for (float f : r.state().to_host()) out += std::to_string(f) + ",";
    out += "|";
    for (int32_t id : r.pending_ids()) out += std::to_string(id) + ",";
    out += "|" + r.encoder().pending_text() + "|" + std::to_string(r.utf8().offset()) + "|" +
           std::to_string(r.utf8().complete());
    return out;
  }

};

const std::string kText =
    "The grass is green. The sky is blue. Caf\xc3\xa9 au lait, na\xc3\xafve r\xc3\xa9sum\xc3\xa9. "
    "The pass key is 71432. Remember it. Here we go, there and back again.";

TEST_F(DocumentReaderTest, AnyChunkingGivesTheSameStateBitForBit) {
  DocumentReader whole = fresh();
  whole.read_text(*model_, kText, true);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    DocumentReader cut = fresh();
    size_t at = 0;
    while (at < kText.size()) {
      const size_t n = std::min<size_t>(1 + rng() % 9, kText.size() - at);  // inside characters too
      cut.read_text(*model_, std::string_view(kText).substr(at, n), false);
      at += n;
    }
    cut.flush(*model_);
    EXPECT_EQ(fingerprint(cut), fingerprint(whole)) << "trial " << trial;
  }
}

TEST_F(DocumentReaderTest, FoldsWholeSegmentsOnlyAndKeepsTheRestPending) {
  DocumentReader r = fresh();
  const auto read = r.read_text(*model_, kText, true);
  const int64_t S = model_->config().segment_size;
  EXPECT_EQ(r.state().tokens() % S, 0);
  EXPECT_LT(static_cast<int64_t>(r.pending_ids().size()), S);
  EXPECT_EQ(r.tokens(), read.tokens);
  EXPECT_EQ(read.stats.segments_folded, r.state().segments());
  EXPECT_EQ(read.tokens, static_cast<int64_t>(tokenizer_->encode(kText).size()));
}

TEST_F(DocumentReaderTest, ARejectedChunkLeavesTheReaderAsItWas) {
  DocumentReader r = fresh();
  r.read_text(*model_, "The grass is green. Caf\xc3", false);  // ends inside a character
  const std::string before = fingerprint(r);
  const auto code_of = [](const std::function<void()>& fn, std::string* message) {
    try {
      fn();
    } catch (const EngineError& e) {
      *message = e.what();
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  std::string message;
  // Not a continuation byte: the stream's byte 24 (byte 0 of this chunk).
  EXPECT_EQ(code_of([&] { r.read_text(*model_, "x more text", false); }, &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("invalid UTF-8 at byte offset 24"), std::string::npos) << message;
  EXPECT_EQ(fingerprint(r), before);
  EXPECT_EQ(code_of([&] { r.read_ids(*model_, std::vector<int32_t>{5, 6}); }, &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("inside a UTF-8 character"), std::string::npos) << message;
  EXPECT_EQ(fingerprint(r), before);
  EXPECT_EQ(code_of([&] { r.flush(*model_); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_EQ(fingerprint(r), before);
  // A flush in the same chunk that leaves a character open is refused whole.
  EXPECT_EQ(code_of([&] { r.read_text(*model_, "\xa9 and \xe2\x82", true); }, &message),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(fingerprint(r), before);

  // The stream goes on where it was, as if nothing had been sent.
  r.read_text(*model_, "\xa9 au lait.", true);
  DocumentReader straight = fresh();
  straight.read_text(*model_, "The grass is green. Caf\xc3\xa9 au lait.", true);
  EXPECT_EQ(fingerprint(r), fingerprint(straight));
}

TEST_F(DocumentReaderTest, IdsContinueAfterThePendingText) {
  DocumentReader r = fresh();
  const auto first = r.read_text(*model_, "The grass is", false);
  EXPECT_FALSE(r.encoder().pending_text().empty());
  const std::vector<int32_t> ids = {11, 12, 13};
  const auto read = r.read_ids(*model_, ids);
  EXPECT_TRUE(r.encoder().pending_text().empty());
  std::vector<int32_t> expected = tokenizer_->encode("The grass is");
  expected.insert(expected.end(), ids.begin(), ids.end());
  EXPECT_EQ(r.tokens(), static_cast<int64_t>(expected.size()));
  EXPECT_EQ(first.tokens + read.tokens, r.tokens());
}

TEST_F(DocumentReaderTest, AQuestionRunsOnAForkAndLeavesTheReaderUnchanged) {
  DocumentReader r = fresh();
  r.read_text(*model_, "The pass key is 71432. The grass is gr", false);
  const std::string before = fingerprint(r);
  PromptTemplate prompt;
  const auto q = r.question(*model_, prompt, prompt.question_pieces("What is the pass key?"));
  EXPECT_EQ(fingerprint(r), before);
  // The fork has read every token of the document, the pending text included.
  const auto all = tokenizer_->encode("The pass key is 71432. The grass is gr");
  EXPECT_EQ(q.state.tokens(), static_cast<int64_t>(all.size()));
  EXPECT_EQ(q.prompt_ids, tokenizer_->encode(prompt.question_text("What is the pass key?")));

  // A fork of the reader is independent of it.
  DocumentReader copy = r.fork();
  EXPECT_EQ(fingerprint(copy), before);
  copy.read_text(*model_, "een and more.", true);
  EXPECT_EQ(fingerprint(r), before);
  EXPECT_NE(fingerprint(copy), before);
}

}  // namespace
}  // namespace infini
