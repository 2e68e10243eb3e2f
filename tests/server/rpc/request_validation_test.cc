// The checks of server/rpc/request_validation.h, one bad field at a time: each
// refusal is INVALID_ARGUMENT and names the field (what
// tests/fuzz/request_validation_fuzz.cc holds for arbitrary messages).
#include "server/rpc/request_validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/status.h"

namespace infini::server {
namespace {

const GenerationLimits kLimits{128, 4096};
const std::vector<std::string> kDefaultStop = {"\n"};

// The refusal's message, or "" when `run` accepts.
template <typename Run>
std::string refusal(Run&& run) {
  try {
    run();
  } catch (const ServiceError& e) {
    EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::INVALID_ARGUMENT) << e.what();
    return e.what();
  }
  return "";
}

std::string generation_refusal(const v1::GenerationParams& p) {
  return refusal([&] { generation_request(p, kLimits, kDefaultStop); });
}

TEST(GenerationRequest, DefaultsResolveAgainstTheServer) {
  const GenerationRequest r = generation_request(v1::GenerationParams(), kLimits, kDefaultStop);
  EXPECT_EQ(r.max_tokens, 128);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.stop, kDefaultStop);
}

TEST(GenerationRequest, KeepsWhatTheRequestSays) {
  v1::GenerationParams p;
  p.set_max_tokens(4096);
  p.set_temperature(0.7f);
  p.set_top_k(40);
  p.set_top_p(0.9f);
  p.set_seed(7);
  p.add_stop("END");
  const GenerationRequest r = generation_request(p, kLimits, kDefaultStop);
  EXPECT_EQ(r.max_tokens, 4096);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_EQ(r.sampling.seed, 7u);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
}

TEST(GenerationRequest, EachBadFieldIsNamed) {
  v1::GenerationParams p;
  p.set_max_tokens(-1);
  EXPECT_NE(generation_refusal(p).find("params.max_tokens must be >= 0"), std::string::npos);
  p.set_max_tokens(4097);
  EXPECT_NE(generation_refusal(p).find("params.max_tokens 4097 exceeds"), std::string::npos);

  p = {};
  p.set_temperature(std::numeric_limits<float>::quiet_NaN());
  EXPECT_NE(generation_refusal(p).find("params.temperature"), std::string::npos);
  p.set_temperature(std::numeric_limits<float>::infinity());
  EXPECT_NE(generation_refusal(p).find("params.temperature"), std::string::npos);
  p = {};
  p.set_top_k(-1);
  EXPECT_NE(generation_refusal(p).find("params.top_k"), std::string::npos);
  p = {};
  p.set_top_p(1.5f);
  EXPECT_NE(generation_refusal(p).find("params.top_p"), std::string::npos);
  p.set_top_p(-0.1f);
  EXPECT_NE(generation_refusal(p).find("params.top_p"), std::string::npos);

  p = {};
  p.add_stop("a");
  p.add_stop("");
  EXPECT_NE(generation_refusal(p).find("params.stop[1] is empty"), std::string::npos);
  p = {};
  for (int i = 0; i < kMaxStopStrings + 1; ++i) p.add_stop(std::to_string(i));
  EXPECT_NE(generation_refusal(p).find("params.stop has more than 16"), std::string::npos);
}

TEST(RequireId, EmptyIsRefusedByName) {
  EXPECT_EQ(refusal([] { require_id("abc", "session_id"); }), "");
  EXPECT_EQ(refusal([] { require_id("", "session_id"); }), "session_id is empty");
  EXPECT_EQ(refusal([] { require_id("0123456789abcdef0123456789abcdef", "session_id"); }), "");
  EXPECT_EQ(refusal([] { require_id("no-such_Session-1", "session_id"); }), "");
  EXPECT_EQ(refusal([] { require_id(std::string(128, 'a'), "session_id"); }), "");
}

TEST(RequireId, IdsThatCannotExistAreRefusedWithoutEchoingThem) {
  const std::string why = "session_id is not 1..128 characters of [A-Za-z0-9_-]";
  const std::string forged = "abc\n2026-11-29 rpc method=Ask status=OK";
  for (const std::string& id :
       {std::string("abc\ndef"), std::string("a b"), std::string("a'b"), std::string("\x01"),
        std::string("caf\xc3\xa9"), std::string(129, 'a'), std::string(1 << 20, 'x'), forged}) {
    const std::string message = refusal([&] { require_id(id, "session_id"); });
    EXPECT_EQ(message.rfind(why, 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_LT(message.size(), 120u) << "the id is not echoed";
  }
}

TEST(PageSize, ZeroIsTheDefaultAndTheBoundsAreChecked) {
  v1::ListSessionsRequest r;
  EXPECT_EQ(resolve_page_size(r), kDefaultPageSize);
  r.set_page_size(1000);
  EXPECT_EQ(resolve_page_size(r), 1000);
  r.set_page_size(1001);
  EXPECT_NE(refusal([&] { resolve_page_size(r); }).find("page_size must be between 0 and 1000"),
            std::string::npos);
  r.set_page_size(-1);
  EXPECT_NE(refusal([&] { resolve_page_size(r); }).find("got -1"), std::string::npos);
}

TEST(IngestMessage, TheFirstNamesASessionAndOnlyTheFirst) {
  v1::IngestRequest create;
  create.mutable_create();
  EXPECT_EQ(check_ingest_message(create, true, 100), IngestTarget::kCreate);
  v1::IngestRequest by_id;
  by_id.set_session_id("abc");
  EXPECT_EQ(check_ingest_message(by_id, true, 100), IngestTarget::kSessionId);

  v1::IngestRequest empty_id;
  empty_id.set_session_id("");
  EXPECT_EQ(refusal([&] { check_ingest_message(empty_id, true, 100); }), "session_id is empty");
  v1::IngestRequest text;
  text.set_text("hello");
  EXPECT_NE(refusal([&] {
              check_ingest_message(text, true, 100);
            }).find("the first Ingest message must set session_id or create"),
            std::string::npos);
  EXPECT_EQ(check_ingest_message(text, false, 100), IngestTarget::kNone);
  EXPECT_NE(refusal([&] {
              check_ingest_message(by_id, false, 100);
            }).find("only allowed in the first Ingest message"),
            std::string::npos);
}

TEST(IngestMessage, TokenIdsMustBeInTheVocabulary) {
  v1::IngestRequest m;
  m.mutable_token_ids()->add_ids(0);
  m.mutable_token_ids()->add_ids(99);
  EXPECT_EQ(check_ingest_message(m, false, 100), IngestTarget::kNone);
  m.mutable_token_ids()->add_ids(100);
  EXPECT_EQ(refusal([&] { check_ingest_message(m, false, 100); }),
            "token_ids.ids[2] = 100 is outside the vocabulary [0, 100)");
  m.mutable_token_ids()->set_ids(2, -1);
  EXPECT_EQ(refusal([&] { check_ingest_message(m, false, 100); }),
            "token_ids.ids[2] = -1 is outside the vocabulary [0, 100)");
}

}  // namespace
}  // namespace infini::server
