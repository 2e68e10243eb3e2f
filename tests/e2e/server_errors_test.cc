// Every error a user of infini-server can get, from the real binary: the
// code and a message that names the field or thing at fault; and that the
// session is left consistent (bad chunks, cancelled ingests, deadlines).
// The command line's errors are in server_command_line_test.cc.
#include <atomic>
#include <future>
#include <thread>

#include "engine/tokenizer.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

constexpr const char* kUnknownId = "0123456789abcdef0123456789abcdef";

// Code and message of a failed call, checked together.
#define EXPECT_STATUS(status, expected_code, ...)                                          \
  do {                                                                                     \
    const grpc::Status s_ = (status);                                                      \
    EXPECT_EQ(s_.error_code(), grpc::StatusCode::expected_code) << describe(s_);           \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) {               \
      EXPECT_NE(s_.error_message().find(part_), std::string::npos)                         \
          << "message \"" << s_.error_message() << "\" does not name \"" << part_ << "\""; \
    }                                                                                      \
  } while (0)

// Tests that need no particular server flags share one server.
using ServerErrorsShared = SharedServerTest;

grpc::Status create_session(v1::LongContext::Stub& stub, v1::Session* out = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::Session session;
  const grpc::Status s = stub.CreateSession(&context, v1::CreateSessionRequest(), &session);
  if (out) *out = session;
  return s;
}

grpc::Status delete_session(v1::LongContext::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  v1::DeleteSessionRequest request;
  request.set_session_id(id);
  v1::DeleteSessionResponse response;
  return stub.DeleteSession(&context, request, &response);
}

grpc::Status fork_session(v1::LongContext::Stub& stub, const std::string& id,
                          v1::Session* out = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::ForkSessionRequest request;
  request.set_session_id(id);
  v1::Session session;
  const grpc::Status s = stub.ForkSession(&context, request, &session);
  if (out) *out = session;
  return s;
}

grpc::Status list_sessions(v1::LongContext::Stub& stub, int32_t page_size,
                           v1::ListSessionsResponse* out = nullptr) {
  grpc::ClientContext context;
  v1::ListSessionsRequest request;
  request.set_page_size(page_size);
  v1::ListSessionsResponse response;
  const grpc::Status s = stub.ListSessions(&context, request, &response);
  if (out) *out = response;
  return s;
}

v1::Session session_or_fail(v1::LongContext::Stub& stub, const std::string& id) {
  v1::Session s;
  const grpc::Status status = get_session(stub, id, &s);
  EXPECT_TRUE(status.ok()) << describe(status);
  return s;
}

// A session holding `text` (one message, no flush), for comparisons.
v1::Session fresh_session(v1::LongContext::Stub& stub, const std::string& text, bool flush) {
  const IngestCall call = ingest_raw(stub, text_messages("", {text}, flush));
  EXPECT_TRUE(call.status.ok()) << describe(call.status);
  return call.response.session();
}

TEST_F(ServerErrorsShared, UnknownSessionIsNotFoundEverywhere) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  v1::ListSessionsResponse before;
  ASSERT_TRUE(list_sessions(*stub, 1000, &before).ok());
  v1::Session session;
  EXPECT_STATUS(get_session(*stub, kUnknownId, &session), NOT_FOUND, kUnknownId);
  EXPECT_STATUS(delete_session(*stub, kUnknownId), NOT_FOUND, kUnknownId);
  EXPECT_STATUS(fork_session(*stub, kUnknownId), NOT_FOUND, kUnknownId);
  EXPECT_STATUS(ask_raw(*stub, kUnknownId, "Why?", greedy_params(4)).status, NOT_FOUND, kUnknownId);
  EXPECT_STATUS(summarize_raw(*stub, kUnknownId, greedy_params(4)).status, NOT_FOUND, kUnknownId);
  EXPECT_STATUS(ingest_raw(*stub, text_messages(kUnknownId, {"some text"}, true)).status, NOT_FOUND,
                kUnknownId);
  // The client library carries the same code and message.
  client::InfiniClient client(server->channel());
  try {
    client.get_session(kUnknownId);
    ADD_FAILURE() << "GetSession of an unknown session succeeded";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(e.message().find(kUnknownId), std::string::npos) << e.message();
  }
  // Nothing was created by the failed calls.
  v1::ListSessionsResponse listed;
  ASSERT_TRUE(list_sessions(*stub, 1000, &listed).ok());
  EXPECT_EQ(listed.sessions_size(), before.sessions_size());
}

// A session id that no session can have (a newline, a space, 100 KB) is
// refused before it reaches a message or the log, where it would forge a
// line or flood it; it is not echoed back either.
TEST_F(ServerErrorsShared, IdsNoSessionCanHaveAreInvalidArgumentAndStayOutOfTheLog) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  const std::string forged = "abc\nFORGED rpc method=Ask status=OK";
  const std::string huge(100000, 'F');
  const char* why = "session_id is not 1..128 characters of [A-Za-z0-9_-]";
  for (const std::string& id : {forged, huge, std::string("a b")}) {
    v1::Session session;
    EXPECT_STATUS(get_session(*stub, id, &session), INVALID_ARGUMENT, why);
    EXPECT_STATUS(delete_session(*stub, id), INVALID_ARGUMENT, why);
    EXPECT_STATUS(fork_session(*stub, id), INVALID_ARGUMENT, why);
    EXPECT_STATUS(ask_raw(*stub, id, "Why?", greedy_params(4)).status, INVALID_ARGUMENT, why);
    EXPECT_STATUS(summarize_raw(*stub, id, greedy_params(4)).status, INVALID_ARGUMENT, why);
    EXPECT_STATUS(ingest_raw(*stub, text_messages(id, {"some text"}, true)).status,
                  INVALID_ARGUMENT, why);
  }
  const std::string log = server->log();
  EXPECT_EQ(log.find("FORGED"), std::string::npos) << "a caller's id reached the log";
  EXPECT_EQ(log.find(huge.substr(0, 1000)), std::string::npos);
}

TEST_F(ServerErrorsShared, EmptyFieldsAreInvalidArgument) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  v1::Session session;
  ASSERT_TRUE(create_session(*stub, &session).ok());
  EXPECT_STATUS(get_session(*stub, "", &session), INVALID_ARGUMENT, "session_id");
  EXPECT_STATUS(delete_session(*stub, ""), INVALID_ARGUMENT, "session_id");
  EXPECT_STATUS(fork_session(*stub, ""), INVALID_ARGUMENT, "session_id");
  EXPECT_STATUS(ask_raw(*stub, "", "Why?", greedy_params(4)).status, INVALID_ARGUMENT,
                "session_id");
  EXPECT_STATUS(summarize_raw(*stub, "", greedy_params(4)).status, INVALID_ARGUMENT, "session_id");
  EXPECT_STATUS(ingest_raw(*stub, {[] {
                  v1::IngestRequest m;
                  m.set_session_id("");  // the oneof set, to an empty id
                  m.set_text("text");
                  return m;
                }()})
                    .status,
                INVALID_ARGUMENT, "session_id");
  EXPECT_STATUS(ask_raw(*stub, session.id(), "", greedy_params(4)).status, INVALID_ARGUMENT,
                "question");
}

TEST(ServerErrors, GenerationParamsAreChecked) {
  auto server = ServerProcess::start({"--max-tokens-limit", "50", "--default-max-tokens", "8"});
  auto stub = new_stub(*server);
  const std::string id = fresh_session(*stub, "A short document about nothing. ", true).id();
  auto ask = [&](auto edit) {
    v1::GenerationParams p = greedy_params(4);
    edit(p);
    return ask_raw(*stub, id, "Why?", p).status;
  };
  EXPECT_STATUS(ask([](auto& p) { p.set_max_tokens(51); }), INVALID_ARGUMENT, "max_tokens", "50",
                "51");
  EXPECT_STATUS(ask([](auto& p) { p.set_max_tokens(-1); }), INVALID_ARGUMENT, "max_tokens", "-1");
  EXPECT_STATUS(ask([](auto& p) { p.set_temperature(-0.5f); }), INVALID_ARGUMENT, "temperature");
  EXPECT_STATUS(ask([](auto& p) { p.set_temperature(std::nanf("")); }), INVALID_ARGUMENT,
                "temperature");
  EXPECT_STATUS(ask([](auto& p) { p.set_top_p(1.5f); }), INVALID_ARGUMENT, "top_p");
  EXPECT_STATUS(ask([](auto& p) { p.set_top_p(-0.1f); }), INVALID_ARGUMENT, "top_p");
  EXPECT_STATUS(ask([](auto& p) { p.set_top_k(-1); }), INVALID_ARGUMENT, "top_k");
  EXPECT_STATUS(ask([](auto& p) { p.add_stop(""); }), INVALID_ARGUMENT, "stop");
  // Summarize checks the same fields.
  v1::GenerationParams too_many = greedy_params(51);
  EXPECT_STATUS(summarize_raw(*stub, id, too_many).status, INVALID_ARGUMENT, "max_tokens");

  // The limit itself is allowed; 0 is the server's default (8 here).
  const Generation at_limit = ask_raw(*stub, id, "Why?", greedy_params(50));
  ASSERT_TRUE(at_limit.status.ok()) << describe(at_limit.status);
  EXPECT_LE(at_limit.final_message.usage().generated_tokens(), 50);
  const Generation by_default = ask_raw(*stub, id, "Why?", greedy_params(0));
  ASSERT_TRUE(by_default.status.ok()) << describe(by_default.status);
  EXPECT_LE(by_default.final_message.usage().generated_tokens(), 8);
  if (by_default.final_message.finish_reason() == v1::FINISH_REASON_LENGTH) {
    EXPECT_EQ(by_default.final_message.usage().generated_tokens(), 8);
  }
}

TEST_F(ServerErrorsShared, PageSizeOutOfRangeIsInvalidArgument) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  EXPECT_STATUS(list_sessions(*stub, 1001), INVALID_ARGUMENT, "page_size", "1000");
  EXPECT_STATUS(list_sessions(*stub, -1), INVALID_ARGUMENT, "page_size");
  EXPECT_TRUE(list_sessions(*stub, 1000).ok());
}

TEST_F(ServerErrorsShared, IngestMessagesMustBeShapedRight) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  // First message without a target.
  v1::IngestRequest no_target;
  no_target.set_text("text without a session");
  EXPECT_STATUS(ingest_raw(*stub, {no_target}).status, INVALID_ARGUMENT, "session_id", "create");
  // No message at all.
  EXPECT_STATUS(ingest_raw(*stub, {}).status, INVALID_ARGUMENT, "session_id", "create");

  // A later message with a target: the chunks before it stay read.
  const v1::Session session = fresh_session(*stub, "Hello there. ", false);
  auto messages = text_messages(session.id(), {"One more sentence. ", "And another. "}, false);
  messages[1].set_session_id(session.id());
  EXPECT_STATUS(ingest_raw(*stub, messages).status, INVALID_ARGUMENT, "session_id", "first");
  const v1::Session after = session_or_fail(*stub, session.id());
  const v1::Session expected = fresh_session(*stub, "Hello there. One more sentence. ", false);
  EXPECT_EQ(after.tokens(), expected.tokens());
  EXPECT_EQ(after.pending_text_bytes(), expected.pending_text_bytes());

  auto with_create = text_messages(session.id(), {"x ", "y "}, false);
  with_create[1].mutable_create();
  EXPECT_STATUS(ingest_raw(*stub, with_create).status, INVALID_ARGUMENT, "create", "first");
}

// A session created by an Ingest call that then fails still exists; the
// client must learn its id from the error to clean it up (or retry into it).
TEST_F(ServerErrorsShared, FailedIngestThatCreatedASessionNamesIt) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  auto ids = [&] {
    v1::ListSessionsResponse listed;
    EXPECT_TRUE(list_sessions(*stub, 1000, &listed).ok());
    std::map<std::string, v1::Session> out;
    for (const auto& s : listed.sessions()) out[s.id()] = s;
    return out;
  };
  const auto before = ids();
  const IngestCall call = ingest_raw(*stub, text_messages("", {"Good text. ", "bad \xff"}, false));
  ASSERT_EQ(call.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(call.status);
  std::vector<v1::Session> created;
  for (const auto& [id, s] : ids()) {
    if (!before.count(id)) created.push_back(s);
  }
  ASSERT_EQ(created.size(), 1u) << "the session the call created";
  const std::string id = created[0].id();
  EXPECT_GT(created[0].tokens() + created[0].pending_text_bytes(), 0);
  EXPECT_NE(call.status.error_message().find(id), std::string::npos)
      << "the error \"" << call.status.error_message()
      << "\" does not name the session the call created (" << id
      << "), which now holds the chunks read before the error";
}

TEST_F(ServerErrorsShared, InvalidUtf8NamesItsOffsetAndKeepsEarlierChunks) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  // 10 valid bytes, then "abc\xff": the bad byte is at offset 13 of the session's text.
  const IngestCall first = ingest_raw(*stub, text_messages("", {"Hello you "}, false));
  ASSERT_TRUE(first.status.ok()) << describe(first.status);
  const std::string id = first.response.session().id();
  const v1::Session before = first.response.session();
  EXPECT_STATUS(ingest_raw(*stub, text_messages(id, {"abc\xff"}, false)).status, INVALID_ARGUMENT,
                "UTF-8", "offset 13", "byte 3 of this chunk");
  v1::Session now = session_or_fail(*stub, id);
  EXPECT_EQ(now.tokens(), before.tokens());
  EXPECT_EQ(now.pending_text_bytes(), before.pending_text_bytes());

  // In one stream: a good chunk is read, the bad one after it is not.
  // "Hello you " (10) + "good words here " (16) + "bad " (4): 0xC0 at 30.
  EXPECT_STATUS(
      ingest_raw(*stub, text_messages(id, {"good words here ", "bad \xc0\xaf"}, false)).status,
      INVALID_ARGUMENT, "offset 30", "byte 4 of this chunk");
  now = session_or_fail(*stub, id);
  const v1::Session expected = fresh_session(*stub, "Hello you good words here ", false);
  EXPECT_EQ(now.tokens(), expected.tokens());
  EXPECT_EQ(now.pending_text_bytes(), expected.pending_text_bytes());

  // A character cut between chunks and then broken: the first byte that
  // cannot continue it is named (offset 26 + 2 = 28 of "...here " + E2 82 'A').
  EXPECT_STATUS(ingest_raw(*stub, text_messages(id, {"\xe2\x82", "A"}, false)).status,
                INVALID_ARGUMENT, "offset 28");
  now = session_or_fail(*stub, id);
  // The two bytes of the open character were read (that chunk was valid so
  // far); the session still continues correctly with the rest of the character.
  const IngestCall finish =
      ingest_raw(*stub, text_messages(id, {"\xac and it continues fine."}, true));
  ASSERT_TRUE(finish.status.ok()) << describe(finish.status);
  const v1::Session whole =
      fresh_session(*stub, "Hello you good words here \xe2\x82\xac and it continues fine.", true);
  EXPECT_EQ(finish.response.session().tokens(), whole.tokens());
  EXPECT_EQ(finish.response.session().pending_text_bytes(), 0);

  // Valid UTF-8 in the `text` field is the same as text_bytes.
  v1::IngestRequest text_field;
  text_field.mutable_create();
  text_field.set_text("caf\xc3\xa9 ok");
  text_field.set_flush(true);
  const IngestCall via_text = ingest_raw(*stub, {text_field});
  ASSERT_TRUE(via_text.status.ok()) << describe(via_text.status);
  EXPECT_EQ(via_text.response.session().tokens(),
            fresh_session(*stub, "caf\xc3\xa9 ok", true).tokens());
}

TEST_F(ServerErrorsShared, TokenIdsOutsideTheVocabularyAreRejected) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  v1::IngestRequest good;
  good.mutable_create();
  for (int id : {5, 6, 7}) good.mutable_token_ids()->add_ids(id);
  const IngestCall first = ingest_raw(*stub, {good});
  ASSERT_TRUE(first.status.ok()) << describe(first.status);
  const std::string session = first.response.session().id();
  EXPECT_EQ(first.response.session().tokens(), 3);

  for (const std::vector<int>& ids : {std::vector<int>{1, 2, 2000}, std::vector<int>{-1}}) {
    v1::IngestRequest bad;
    bad.set_session_id(session);
    for (int id : ids) bad.mutable_token_ids()->add_ids(id);
    const std::string index = std::to_string(ids.size() - 1);
    EXPECT_STATUS(ingest_raw(*stub, {bad}).status, INVALID_ARGUMENT,
                  "token_ids.ids[" + index + "] = " + std::to_string(ids.back()), "2000");
  }
  EXPECT_EQ(session_or_fail(*stub, session).tokens(), 3);
  // The largest id is fine.
  v1::IngestRequest last;
  last.set_session_id(session);
  last.mutable_token_ids()->add_ids(1999);
  const IngestCall ok = ingest_raw(*stub, {last});
  ASSERT_TRUE(ok.status.ok()) << describe(ok.status);
  EXPECT_EQ(ok.response.session().tokens(), 4);
}

TEST(ServerErrors, SessionLimitIsResourceExhausted) {
  auto server = ServerProcess::start({"--max-sessions", "2"});
  auto stub = new_stub(*server);
  v1::Session a, b;
  ASSERT_TRUE(create_session(*stub, &a).ok());
  const IngestCall second = ingest_raw(*stub, text_messages("", {"Some text. "}, true));
  ASSERT_TRUE(second.status.ok()) << describe(second.status);
  EXPECT_STATUS(create_session(*stub), RESOURCE_EXHAUSTED, "--max-sessions", "2");
  EXPECT_STATUS(ingest_raw(*stub, text_messages("", {"More text. "}, true)).status,
                RESOURCE_EXHAUSTED, "--max-sessions");
  EXPECT_STATUS(fork_session(*stub, a.id()), RESOURCE_EXHAUSTED, "--max-sessions");
  v1::ListSessionsResponse listed;
  ASSERT_TRUE(list_sessions(*stub, 0, &listed).ok());
  EXPECT_EQ(listed.sessions_size(), 2);
  // Room again after a delete.
  ASSERT_TRUE(delete_session(*stub, a.id()).ok());
  EXPECT_TRUE(fork_session(*stub, second.response.session().id(), &b).ok());
  EXPECT_EQ(b.tokens(), second.response.session().tokens());
}

TEST(ServerErrors, StateBytesLimitIsResourceExhausted) {
  // The test model's resident state: L*Hkv*d*(d+1)*4 (memory; a session
  // between calls holds no window, 2*L*S*Hkv*d*4), L=2 layers, Hkv=2, d=16.
  const int64_t state_bytes = 2 * 2 * 16 * 17 * 4;
  // A budget below one session's state could hold no session: refused at
  // start rather than refusing (or evicting for) every call.
  try {
    ServerProcess::start({"--max-state-bytes", "1"});
    ADD_FAILURE() << "the server started with --max-state-bytes 1";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-state-bytes 1 is smaller than one session's state"),
              std::string::npos)
        << e.what();
  }
  auto server = ServerProcess::start({"--max-state-bytes", std::to_string(state_bytes * 3 / 2)});
  auto stub = new_stub(*server);
  v1::Session one;
  ASSERT_TRUE(create_session(*stub, &one).ok());
  EXPECT_EQ(one.state_bytes(), state_bytes);
  EXPECT_STATUS(create_session(*stub), RESOURCE_EXHAUSTED, "--max-state-bytes");
  EXPECT_STATUS(fork_session(*stub, one.id()), RESOURCE_EXHAUSTED, "--max-state-bytes");
  EXPECT_STATUS(ingest_raw(*stub, text_messages("", {"text "}, true)).status, RESOURCE_EXHAUSTED,
                "--max-state-bytes");
}

// A client that cancels mid-ingest leaves a session holding whole chunks
// only; a later Ingest continues as if the stream had never broken.
TEST_F(ServerErrorsShared, CancelledIngestLeavesWholeChunks) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  const std::string doc = make_document(360000, 8);
  const auto chunks = fixed_chunks(doc, 60000);
  ASSERT_GE(chunks.size(), 6u);

  // What each prefix of whole chunks gives, from the engine's own streaming
  // encoder (the server reads chunks with it, one push per chunk).
  auto tokenizer = Tokenizer::load(test_model_dir() + "/tokenizer.model");
  StreamingEncoder encoder(tokenizer);
  std::vector<std::pair<int64_t, int64_t>> prefix = {{0, 0}};  // (tokens, pending bytes)
  for (const auto& c : chunks) {
    const int64_t t = prefix.back().first + static_cast<int64_t>(encoder.push(c).size());
    prefix.emplace_back(t, static_cast<int64_t>(encoder.pending_text().size()));
  }

  v1::Session session;
  ASSERT_TRUE(create_session(*stub, &session).ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  v1::IngestResponse response;
  auto writer = stub->Ingest(&context, &response);
  std::atomic<int> written{0};
  std::thread writing([&] {
    auto messages = text_messages(session.id(), chunks, true);
    for (const auto& m : messages) {
      if (!writer->Write(m)) return;
      ++written;
    }
  });
  // Cancel once the server has read at least one chunk (one is 60 KB, ~15K
  // tokens, so it takes a while): later chunks are in flight or unsent.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (session_or_fail(*stub, session.id()).tokens() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  context.TryCancel();
  writing.join();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << describe(status);

  // A chunk the server had started still completes; an Ask runs on the
  // session's queue after it, so GetSession afterwards sees the final state.
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(ask_raw(*stub, session.id(), "Why?", greedy_params(1)).status.ok());
  const v1::Session after = session_or_fail(*stub, session.id());
  size_t whole_chunks = prefix.size();
  for (size_t k = 0; k < prefix.size(); ++k) {
    if (prefix[k].first == after.tokens() && prefix[k].second == after.pending_text_bytes()) {
      whole_chunks = k;
    }
  }
  std::printf(
      "cancelled after %d messages written; the session holds %lld tokens = %zu whole chunks\n",
      written.load(), static_cast<long long>(after.tokens()), whole_chunks);
  ASSERT_LT(whole_chunks, prefix.size())
      << "the session's " << after.tokens() << " tokens / " << after.pending_text_bytes()
      << " pending bytes are not those of any number of whole chunks";
  EXPECT_GE(whole_chunks, 1u);
  EXPECT_LT(whole_chunks, chunks.size()) << "the cancel came after the last chunk";

  // The server agrees: a fresh session given those chunks at once.
  std::string read_part;
  for (size_t k = 0; k < whole_chunks; ++k) read_part += chunks[k];
  const v1::Session reference = fresh_session(*stub, read_part, false);
  EXPECT_EQ(after.tokens(), reference.tokens());
  EXPECT_EQ(after.segments(), reference.segments());
  const auto params = greedy_params(12);
  EXPECT_EQ(ask_raw(*stub, session.id(), "Why?", params).text,
            ask_raw(*stub, reference.id(), "Why?", params).text);

  // Continue with the rest: the same as the whole document at once.
  const std::vector<std::string> rest(chunks.begin() + static_cast<long>(whole_chunks),
                                      chunks.end());
  const IngestCall continued = ingest_raw(*stub, text_messages(session.id(), rest, true));
  ASSERT_TRUE(continued.status.ok()) << describe(continued.status);
  const v1::Session whole = fresh_session(*stub, doc, true);
  EXPECT_EQ(continued.response.session().tokens(), whole.tokens());
  EXPECT_EQ(continued.response.session().segments(), whole.segments());
  EXPECT_EQ(ask_raw(*stub, session.id(), "Why?", params).text,
            ask_raw(*stub, whole.id(), "Why?", params).text);
}

// A deadline that passes during a long generation: DEADLINE_EXCEEDED at
// the deadline, the server stops generating, the session is unchanged.
TEST(ServerErrors, DeadlineDuringGenerationLeavesTheSessionUsable) {
  auto server = ServerProcess::start({"--max-tokens-limit", "100000"});
  auto stub = new_stub(*server);
  const v1::Session session = fresh_session(*stub, make_document(20000, 9), false);
  const auto params = greedy_params(16);
  const Generation before = ask_raw(*stub, session.id(), "Tell me more.", params);
  ASSERT_TRUE(before.status.ok()) << describe(before.status);

  const Generation cut = ask_raw(*stub, session.id(), "Tell me more.", greedy_params(4000), 50ms);
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(cut.status);
  EXPECT_FALSE(cut.has_final);
  EXPECT_LT(cut.seconds, 2.0) << "the call outlived its 50 ms deadline";

  // 20000 tokens would take tens of seconds here: the next call on the same
  // session (queued behind it) comes back only if the server stopped.
  const Generation long_cut =
      ask_raw(*stub, session.id(), "Tell me more.", greedy_params(20000), 50ms);
  EXPECT_EQ(long_cut.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << describe(long_cut.status);
  const Generation after = ask_raw(*stub, session.id(), "Tell me more.", params, 15s);
  ASSERT_TRUE(after.status.ok()) << describe(after.status)
                                 << " (did the server keep generating after the deadline?)";
  EXPECT_LT(after.seconds, 10.0);
  EXPECT_EQ(after.text, before.text);
  const v1::Session now = session_or_fail(*stub, session.id());
  EXPECT_EQ(now.tokens(), session.tokens());
  EXPECT_EQ(now.segments(), session.segments());
  EXPECT_EQ(now.pending_text_bytes(), session.pending_text_bytes());
  // Still readable into.
  const IngestCall more = ingest_raw(*stub, text_messages(session.id(), {" More text."}, true));
  EXPECT_TRUE(more.status.ok()) << describe(more.status);
  EXPECT_GT(more.response.session().tokens(), session.tokens());
}

}  // namespace
}  // namespace infini::e2e
