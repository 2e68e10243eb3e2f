// The server's limits through the real binary: each hit is a clear status
// naming the flag, loses nothing the call had already done, and is counted
// in infini_limit_hits_total{limit}.
#include <fstream>
#include <regex>
#include <thread>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

double limit_hits(const ServerProcess& server, const std::string& limit) {
  return metric_value(scrape(server), "infini_limit_hits_total", {{"limit", limit}});
}

grpc::Status create(v1::LongContext::Stub& stub, v1::Session* out,
                    const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  return stub.CreateSession(&context, v1::CreateSessionRequest(), out);
}

// An Ingest stream left open: it holds a stream slot until closed.
struct OpenIngest {
  grpc::ClientContext context;
  v1::IngestResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::IngestRequest>> writer;

  OpenIngest(v1::LongContext::Stub& stub, const std::string& session_id) {
    context.set_deadline(std::chrono::system_clock::now() + 60s);
    writer = stub.Ingest(&context, &response);
    v1::IngestRequest first;
    first.set_session_id(session_id);
    first.set_text("The grass is green.");
    writer->Write(first);
  }
  grpc::Status close() {
    writer->WritesDone();
    return writer->Finish();
  }
};

TEST(ServerLimits, StreamsPastMaxStreamsAreRefusedAndTheSlotsComeBack) {
  auto server = ServerProcess::start({"--max-streams", "2"});
  auto stub = new_stub(*server);
  v1::Session a, b;
  ASSERT_TRUE(create(*stub, &a).ok());
  ASSERT_TRUE(create(*stub, &b).ok());
  {
    OpenIngest first(*stub, a.id());
    OpenIngest second(*stub, b.id());
    // Both are open once their first chunk is read.
    for (int i = 0; i < 200; ++i) {
      v1::Session s;
      get_session(*stub, b.id(), &s);
      if (s.tokens() > 0) break;
      std::this_thread::sleep_for(20ms);
    }
    auto third = ingest_raw(*stub, text_messages(a.id(), {"More text."}, true));
    EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << describe(third.status);
    EXPECT_NE(third.status.error_message().find("--max-streams"), std::string::npos)
        << third.status.error_message();
    auto ask = ask_raw(*stub, a.id(), "Where?", greedy_params(4));
    EXPECT_EQ(ask.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(ask.status);
    // Unary calls need no stream slot.
    v1::Session c;
    EXPECT_TRUE(create(*stub, &c).ok());
    EXPECT_EQ(metric_value(scrape(*server), "infini_streams_open"), 2);
    EXPECT_EQ(metric_value(scrape(*server), "infini_streams_limit"), 2);
    EXPECT_TRUE(first.close().ok());
    EXPECT_TRUE(second.close().ok());
  }
  EXPECT_EQ(limit_hits(*server, "streams"), 2);
  EXPECT_EQ(metric_value(scrape(*server), "infini_streams_open"), 0);
  // The refused Ingest read nothing: a's tokens are those of its first stream.
  v1::Session before;
  ASSERT_TRUE(get_session(*stub, a.id(), &before).ok());
  auto again = ingest_raw(*stub, text_messages(a.id(), {" More text."}, true));
  EXPECT_TRUE(again.status.ok()) << describe(again.status);
  auto ask = ask_raw(*stub, a.id(), "Where?", greedy_params(4));
  EXPECT_TRUE(ask.status.ok()) << describe(ask.status);
}

TEST(ServerLimits, ChunksFasterThanTheRateEndTheCallAndKeepWhatWasRead) {
  auto server = ServerProcess::start({"--max-chunks-per-second", "5"});
  auto stub = new_stub(*server);
  std::vector<std::string> chunks;
  for (int i = 0; i < 40; ++i) chunks.push_back("Sentence number " + std::to_string(i) + ". ");
  auto call = ingest_raw(*stub, text_messages("", chunks, true));
  ASSERT_EQ(call.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(call.status);
  const std::string& message = call.status.error_message();
  EXPECT_NE(message.find("--max-chunks-per-second"), std::string::npos) << message;
  EXPECT_NE(message.find("retry in"), std::string::npos) << message;
  // The message names the session the first chunk created, and the chunks
  // read before the refusal stay read.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(message, m, std::regex("session ([0-9a-f]{32})"))) << message;
  v1::Session s;
  ASSERT_TRUE(get_session(*stub, m[1], &s).ok());
  EXPECT_GT(s.tokens() + s.pending_text_bytes(), 0);
  EXPECT_EQ(limit_hits(*server, "chunk_rate"), 1);

  // Another session has its own budget; sending at the rate is never refused.
  v1::Session other;
  ASSERT_TRUE(create(*stub, &other).ok());
  for (int i = 0; i < 3; ++i) {
    auto slow = ingest_raw(*stub, text_messages(other.id(), {"Slow and steady. "}, false));
    EXPECT_TRUE(slow.status.ok()) << describe(slow.status);
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(limit_hits(*server, "chunk_rate"), 1);
}

TEST(ServerLimits, MessagesPastMaxMessageBytesAreRefusedAndCounted) {
  auto server = ServerProcess::start({"--max-message-bytes", "65536"});
  auto stub = new_stub(*server);
  v1::Session s;
  ASSERT_TRUE(create(*stub, &s).ok());
  auto small = ingest_raw(*stub, text_messages(s.id(), {make_document(4000)}, false));
  ASSERT_TRUE(small.status.ok()) << describe(small.status);
  v1::Session before;
  ASSERT_TRUE(get_session(*stub, s.id(), &before).ok());

  auto big = ingest_raw(*stub, text_messages(s.id(), {make_document(100000)}, false));
  EXPECT_EQ(big.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(big.status);
  EXPECT_NE(big.status.error_message().find("--max-message-bytes"), std::string::npos)
      << big.status.error_message();
  v1::Session after;
  ASSERT_TRUE(get_session(*stub, s.id(), &after).ok());
  EXPECT_EQ(after.tokens(), before.tokens());
  EXPECT_EQ(after.pending_text_bytes(), before.pending_text_bytes());

  auto long_question = ask_raw(*stub, s.id(), make_document(90000), greedy_params(4));
  EXPECT_EQ(long_question.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << describe(long_question.status);
  EXPECT_EQ(limit_hits(*server, "message_bytes"), 2);
}

TEST(ServerLimits, MaxTokensPastTheLimitIsABadArgumentAndCounted) {
  auto server = ServerProcess::start({"--max-tokens-limit", "16", "--default-max-tokens", "8"});
  auto stub = new_stub(*server);
  v1::Session s;
  ASSERT_TRUE(create(*stub, &s).ok());
  auto ask = ask_raw(*stub, s.id(), "What?", greedy_params(17));
  EXPECT_EQ(ask.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(ask.status);
  EXPECT_NE(ask.status.error_message().find("16"), std::string::npos);
  EXPECT_TRUE(ask_raw(*stub, s.id(), "What?", greedy_params(16)).status.ok());
  EXPECT_EQ(limit_hits(*server, "max_tokens"), 1);
}

TEST(ServerLimits, SessionsPastMaxSessionsAreRefusedAndCounted) {
  auto server = ServerProcess::start({"--max-sessions", "2"});
  auto stub = new_stub(*server);
  v1::Session s;
  ASSERT_TRUE(create(*stub, &s).ok());
  ASSERT_TRUE(create(*stub, &s).ok());
  const grpc::Status third = create(*stub, &s);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(third);
  EXPECT_NE(third.error_message().find("--max-sessions"), std::string::npos);
  // Creating through Ingest hits the same limit.
  auto ingest = ingest_raw(*stub, text_messages("", {"text"}, true));
  EXPECT_EQ(ingest.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limit_hits(*server, "sessions"), 2);
}

TEST(ServerLimits, SessionsPerTenantAreCountedPerTenant) {
  TempDir dir("infini-limits");
  const auto tokens = dir.path() / "tokens";
  {
    std::ofstream out(tokens);
    out << "alpha alpha-token-0123456789\nbeta beta-token-0123456789\n";
  }
  fs::permissions(tokens, fs::perms::owner_read | fs::perms::owner_write);
  auto server = ServerProcess::start(
      {"--auth-tokens", tokens.string(), "--max-sessions-per-tenant", "2"});
  auto stub = new_stub(*server);
  v1::Session s;
  ASSERT_TRUE(create(*stub, &s, "alpha-token-0123456789").ok());
  ASSERT_TRUE(create(*stub, &s, "alpha-token-0123456789").ok());
  const grpc::Status third = create(*stub, &s, "alpha-token-0123456789");
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(third);
  EXPECT_NE(third.error_message().find("--max-sessions-per-tenant"), std::string::npos)
      << third.error_message();
  // The message does not name the tenant's sessions or other tenants.
  EXPECT_EQ(third.error_message().find("beta"), std::string::npos);
  // beta is not affected by alpha's sessions.
  EXPECT_TRUE(create(*stub, &s, "beta-token-0123456789").ok());
  EXPECT_TRUE(create(*stub, &s, "beta-token-0123456789").ok());
  EXPECT_EQ(limit_hits(*server, "tenant_sessions"), 1);
}

}  // namespace
}  // namespace infini::e2e
