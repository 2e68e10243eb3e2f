// The client library against an in-process fake LongContext service that
// records what arrives and answers from a script (fake_long_context.h).
#include "tests/e2e/fake_long_context.h"

namespace infini::client {
namespace {

// ---- ingest ----

class ChunkSizeTest : public ClientLibraryTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(ChunkSizeTest, DocumentArrivesIntactAndInOrderWithProgressPerChunk) {
  const size_t chunk = GetParam();
  const std::string doc = make_document(chunk == 1 ? 3000 : 200 * 1000);
  const size_t expected_messages = (doc.size() + chunk - 1) / chunk;
  InfiniClient client(address_);
  IngestOptions options;
  options.chunk_bytes = chunk;
  options.labels = {{"source", "test"}};

  for (const bool from_stream : {false, true}) {
    SCOPED_TRACE(from_stream ? "std::istream" : "std::string_view");
    {
      std::lock_guard lock(service_.mu);
      service_.ingests.clear();
    }
    std::vector<IngestProgress> progress;
    auto on_progress = [&](const IngestProgress& p) { progress.push_back(p); };
    std::istringstream stream(doc);
    const v1::IngestResponse response = from_stream ? client.ingest(stream, options, on_progress)
                                                    : client.ingest(doc, options, on_progress);
    EXPECT_EQ(response.session().id(), "new-1");
    EXPECT_EQ(response.bytes(), static_cast<int64_t>(doc.size()));

    const auto messages = only_ingest();
    ASSERT_EQ(messages.size(), expected_messages);
    std::string joined;
    for (size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      ASSERT_EQ(m.chunk_case(), v1::IngestRequest::kTextBytes) << "message " << i;
      if (i + 1 < messages.size()) EXPECT_EQ(m.text_bytes().size(), chunk) << "message " << i;
      EXPECT_EQ(m.flush(), i + 1 == messages.size()) << "message " << i;
      if (i == 0) {
        ASSERT_EQ(m.target_case(), v1::IngestRequest::kCreate);
        EXPECT_EQ(m.create().labels().at("source"), "test");
      } else {
        EXPECT_EQ(m.target_case(), v1::IngestRequest::TARGET_NOT_SET) << "message " << i;
      }
      joined += m.text_bytes();
    }
    EXPECT_EQ(joined.size(), doc.size());
    EXPECT_TRUE(joined == doc) << "the document arrived changed or out of order";

    ASSERT_EQ(progress.size(), expected_messages);
    for (size_t i = 0; i < progress.size(); ++i) {
      EXPECT_EQ(progress[i].chunks, static_cast<int64_t>(i + 1));
      EXPECT_EQ(progress[i].sent, static_cast<int64_t>(std::min(doc.size(), (i + 1) * chunk)));
      EXPECT_EQ(progress[i].total, std::optional<int64_t>(doc.size()));
      EXPECT_EQ(progress[i].last, i + 1 == progress.size()) << "progress " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, ChunkSizeTest, ::testing::Values(1, 7, 64 * 1024),
                         [](const auto& info) { return std::to_string(info.param) + "_bytes"; });

TEST_F(ClientLibraryTest, IngestIntoAnExistingSessionNamesItInTheFirstMessageOnly) {
  InfiniClient client(address_);
  IngestOptions options;
  options.session_id = "s01";
  options.chunk_bytes = 4;
  const auto response = client.ingest(std::string_view("hello world"), options);
  EXPECT_EQ(response.session().id(), "s01");
  const auto messages = only_ingest();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].target_case(), v1::IngestRequest::kSessionId);
  EXPECT_EQ(messages[0].session_id(), "s01");
  EXPECT_EQ(messages[1].target_case(), v1::IngestRequest::TARGET_NOT_SET);
  EXPECT_EQ(messages[2].target_case(), v1::IngestRequest::TARGET_NOT_SET);
}

TEST_F(ClientLibraryTest, LabelsWithAnExistingSessionAreRejectedBeforeAnyCall) {
  InfiniClient client(address_);
  IngestOptions options;
  options.session_id = "s01";
  options.labels = {{"k", "v"}};
  expect_client_error([&] { client.ingest(std::string_view("text"), options); },
                      grpc::StatusCode::INVALID_ARGUMENT,
                      "labels apply only to a new session, not to session s01");
  std::lock_guard lock(service_.mu);
  EXPECT_TRUE(service_.ingests.empty());
}

TEST_F(ClientLibraryTest, PipeHasUnknownTotalAndNoFlushWhenAsked) {
  InfiniClient client(address_);
  const std::string doc = make_document(1000);
  PipeBuf buf(doc);
  std::istream pipe(&buf);
  IngestOptions options;
  options.chunk_bytes = 100;
  options.flush = false;
  std::vector<IngestProgress> progress;
  client.ingest(pipe, options, [&](const IngestProgress& p) { progress.push_back(p); });
  ASSERT_FALSE(progress.empty());
  for (const auto& p : progress) EXPECT_EQ(p.total, std::nullopt);
  EXPECT_EQ(progress.back().sent, static_cast<int64_t>(doc.size()));
  std::string joined;
  for (const auto& m : only_ingest()) {
    EXPECT_FALSE(m.flush());
    joined += m.text_bytes();
  }
  EXPECT_TRUE(joined == doc);
}

TEST_F(ClientLibraryTest, EmptyDocumentIsOneMessageThatCreatesTheSessionAndFlushes) {
  InfiniClient client(address_);
  std::vector<IngestProgress> progress;
  client.ingest(std::string_view(), {}, [&](const IngestProgress& p) { progress.push_back(p); });
  const auto messages = only_ingest();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].target_case(), v1::IngestRequest::kCreate);
  EXPECT_EQ(messages[0].chunk_case(), v1::IngestRequest::kTextBytes);
  EXPECT_TRUE(messages[0].flush());
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].sent, 0);
  EXPECT_TRUE(progress[0].last);
}

TEST_F(ClientLibraryTest, TokenIdsArriveInOrderInChunks) {
  InfiniClient client(address_);
  std::vector<int32_t> ids(10000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i * 7 % 32000);
  IngestOptions options;
  options.chunk_tokens = 4096;
  std::vector<int64_t> sent;
  client.ingest_tokens(ids, options, [&](const IngestProgress& p) { sent.push_back(p.sent); });
  EXPECT_EQ(sent, (std::vector<int64_t>{4096, 8192, 10000}));
  const auto messages = only_ingest();
  ASSERT_EQ(messages.size(), 3u);
  std::vector<int32_t> received;
  for (const auto& m : messages) {
    ASSERT_EQ(m.chunk_case(), v1::IngestRequest::kTokenIds);
    received.insert(received.end(), m.token_ids().ids().begin(), m.token_ids().ids().end());
  }
  EXPECT_EQ(received, ids);
  EXPECT_TRUE(messages.back().flush());
}

TEST_F(ClientLibraryTest, IngestServerErrorSurfacesWithCodeAndMessage) {
  service_.ingest_error_after = 2;
  InfiniClient client(address_);
  IngestOptions options;
  options.chunk_bytes = 7;
  expect_client_error([&] { client.ingest(make_document(100000), options); },
                      grpc::StatusCode::INVALID_ARGUMENT, "invalid UTF-8 at byte 13");
}

TEST_F(ClientLibraryTest, ProgressCallbackThatThrowsEndsTheCall) {
  InfiniClient client(address_);
  IngestOptions options;
  options.chunk_bytes = 10;
  int calls = 0;
  EXPECT_THROW(client.ingest(make_document(10000), options,
                             [&](const IngestProgress&) {
                               if (++calls == 3) throw std::runtime_error("stop");
                             }),
               std::runtime_error);
  EXPECT_EQ(calls, 3);
  // The server sees a cancelled call, not a finished document.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < give_up) {
    {
      std::lock_guard lock(service_.mu);
      if (!service_.ingests.empty()) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(service_.mu);
  ASSERT_EQ(service_.ingests.size(), 1u);
  EXPECT_LE(service_.ingests[0].size(), 3u);
  for (const auto& m : service_.ingests[0]) EXPECT_FALSE(m.flush());
}

// ---- ask / summarize ----

TEST_F(ClientLibraryTest, AskDeliversDeltasInOrderAndReturnsTheFinalUsage) {
  InfiniClient client(address_);
  GenerationParams params;
  params.max_tokens = 64;
  params.temperature = 0.7f;
  params.top_k = 40;
  params.top_p = 0.9f;
  params.seed = 1234567890123ull;
  params.stop = {"\n\n", "END"};
  std::vector<std::string> seen;
  const GenerateResult result =
      client.ask("s01", "what is the answer?", params, [&](std::string_view delta) {
        seen.emplace_back(delta);
        return true;
      });
  EXPECT_EQ(seen, service_.deltas);
  EXPECT_EQ(result.text, "The answer is 42.");
  EXPECT_EQ(result.finish_reason, v1::FINISH_REASON_STOP);
  EXPECT_FALSE(result.cancelled_by_client);
  EXPECT_EQ(result.usage.prompt_tokens(), 11);
  EXPECT_EQ(result.usage.generated_tokens(), 5);
  EXPECT_DOUBLE_EQ(result.usage.time_to_first_token_seconds(), 0.25);
  EXPECT_DOUBLE_EQ(result.usage.tokens_per_second(), 16.0);

  std::lock_guard lock(service_.mu);
  const auto& request = service_.last_ask;
  EXPECT_EQ(request.session_id(), "s01");
  EXPECT_EQ(request.question(), "what is the answer?");
  EXPECT_EQ(request.params().max_tokens(), 64);
  EXPECT_FLOAT_EQ(request.params().temperature(), 0.7f);
  EXPECT_EQ(request.params().top_k(), 40);
  EXPECT_FLOAT_EQ(request.params().top_p(), 0.9f);
  EXPECT_EQ(request.params().seed(), 1234567890123ull);
  ASSERT_EQ(request.params().stop_size(), 2);
  EXPECT_EQ(request.params().stop(0), "\n\n");
  EXPECT_EQ(request.params().stop(1), "END");
}

TEST_F(ClientLibraryTest, SummarizeStreamsLikeAsk) {
  InfiniClient client(address_);
  GenerationParams params;
  params.max_tokens = 7;
  std::string streamed;
  const GenerateResult result = client.summarize("s01", params, [&](std::string_view delta) {
    streamed += delta;
    return true;
  });
  EXPECT_EQ(streamed, "The answer is 42.");
  EXPECT_EQ(result.finish_reason, v1::FINISH_REASON_STOP);
  EXPECT_EQ(result.usage.generated_tokens(), 5);
  std::lock_guard lock(service_.mu);
  EXPECT_EQ(service_.last_summarize.session_id(), "s01");
  EXPECT_EQ(service_.last_summarize.params().max_tokens(), 7);
}

TEST_F(ClientLibraryTest, OnTextReturningFalseCancelsTheStream) {
  service_.generate_forever = true;
  InfiniClient client(address_);
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  const GenerateResult result =
      client.ask("s01", "go on for ever", {}, [&](std::string_view) { return ++calls < 3; });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(calls, 3) << "on_text was called after it asked to stop";
  EXPECT_TRUE(result.cancelled_by_client);
  EXPECT_EQ(result.finish_reason, v1::FINISH_REASON_CANCELLED);
  EXPECT_EQ(result.text, "t0 t1 t2 ");
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!service_.saw_cancel && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(service_.saw_cancel) << "the server went on generating";
}

TEST_F(ClientLibraryTest, GenerateServerErrorSurfacesAfterTheDeltasBeforeIt) {
  service_.generate_error_after = 2;
  InfiniClient client(address_);
  std::vector<std::string> seen;
  expect_client_error(
      [&] {
        client.ask("s01", "q", {}, [&](std::string_view delta) {
          seen.emplace_back(delta);
          return true;
        });
      },
      grpc::StatusCode::RESOURCE_EXHAUSTED, "scheduler queue is full");
  EXPECT_EQ(seen, (std::vector<std::string>{"The ", "answer "}));
}

// ---- sessions ----

TEST_F(ClientLibraryTest, ServerErrorsSurfaceAsClientErrorWithCodeAndMessage) {
  InfiniClient client(address_);
  expect_client_error([&] { client.get_session("missing"); }, grpc::StatusCode::NOT_FOUND,
                      "session missing not found");
  EXPECT_EQ(client.get_session("s01").tokens(), 1234);
}

TEST_F(ClientLibraryTest, CallTimeoutBecomesDeadlineExceeded) {
  ClientOptions options;
  options.call_timeout = 200ms;
  InfiniClient client(address_, options);
  try {
    client.get_session("slow");
    ADD_FAILURE() << "expected DEADLINE_EXCEEDED";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::DEADLINE_EXCEEDED) << e.what();
  }
}

// With nothing listening, a plain call fails at once with UNAVAILABLE; with
// wait_for_ready it keeps waiting for a connection until its deadline.
TEST_F(ClientLibraryTest, WaitForReadyWaitsForTheServerUntilTheDeadline) {
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  ClientOptions fail_fast;
  fail_fast.call_timeout = 5s;
  InfiniClient plain(address_, fail_fast);
  try {
    plain.get_session("s01");
    ADD_FAILURE() << "expected UNAVAILABLE";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::UNAVAILABLE) << e.what();
  }
  ClientOptions patient;
  patient.call_timeout = 300ms;
  patient.wait_for_ready = true;
  InfiniClient waiting(address_, patient);
  try {
    waiting.get_session("s01");
    ADD_FAILURE() << "expected DEADLINE_EXCEEDED";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::DEADLINE_EXCEEDED) << e.what();
  }
}

TEST_F(ClientLibraryTest, ListAllSessionsFollowsNextPageToken) {
  InfiniClient client(address_);
  const auto sessions = client.list_all_sessions(3);
  std::vector<std::string> ids;
  for (const auto& s : sessions) ids.push_back(s.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"s00", "s01", "s02", "s03", "s04", "s05", "s06"}));
  std::lock_guard lock(service_.mu);
  ASSERT_EQ(service_.list_requests.size(), 3u);
  EXPECT_EQ(service_.list_requests[0].page_token(), "");
  EXPECT_EQ(service_.list_requests[1].page_token(), "3");
  EXPECT_EQ(service_.list_requests[2].page_token(), "6");
  for (const auto& r : service_.list_requests) EXPECT_EQ(r.page_size(), 3);
}

TEST_F(ClientLibraryTest, ListAllSessionsStopsOnARepeatedPageToken) {
  service_.repeat_page_token = true;
  InfiniClient client(address_);
  expect_client_error([&] { client.list_all_sessions(3); }, grpc::StatusCode::INTERNAL,
                      "ListSessions returned the same page token again: '3'");
}

TEST_F(ClientLibraryTest, CreateForkDeleteCarryIdsAndLabels) {
  InfiniClient client(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(client.create_session({{"team", "search"}}).id(), "created-1");
  EXPECT_EQ(client.fork_session("s01", {{"branch", "a"}}).id(), "fork-of-s01");
  client.delete_session("s02");
  std::lock_guard lock(service_.mu);
  EXPECT_EQ(service_.last_create.labels().at("team"), "search");
  EXPECT_EQ(service_.last_fork.session_id(), "s01");
  EXPECT_EQ(service_.last_fork.labels().at("branch"), "a");
  EXPECT_EQ(service_.deleted, std::vector<std::string>{"s02"});
}

}  // namespace
}  // namespace infini::client
