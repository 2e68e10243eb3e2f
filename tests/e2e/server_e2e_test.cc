// The real infini-server, end to end, through the client library and raw
// stubs: chunk-invariant ingest of a multi-megabyte document, session
// isolation, asking never changes a session, forks, paging, reflection and
// health. The checkpoint is random: answers are compared between sessions
// and runs, never against expected words.
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

namespace rv = grpc::reflection::v1alpha;

// Tests that need no particular server flags (nor an empty server) share one.
using ServerE2EShared = SharedServerTest;

bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

void expect_same_counts(const v1::Session& a, const v1::Session& b, const char* what) {
  EXPECT_EQ(a.tokens(), b.tokens()) << what;
  EXPECT_EQ(a.segments(), b.segments()) << what;
  EXPECT_EQ(a.pending_text_bytes(), b.pending_text_bytes()) << what;
  EXPECT_EQ(a.state_bytes(), b.state_bytes()) << what;
}

// Checks the final message of a generation against the request.
void expect_final_message(const Generation& g, int32_t max_tokens) {
  ASSERT_TRUE(g.status.ok()) << describe(g.status);
  ASSERT_TRUE(g.has_final) << "no message with a finish reason";
  const v1::GenerateResponse& last = g.final_message;
  EXPECT_NE(last.finish_reason(), v1::FINISH_REASON_CANCELLED);
  ASSERT_TRUE(last.has_usage());
  const v1::Usage& u = last.usage();
  EXPECT_GT(u.prompt_tokens(), 0);
  EXPECT_LE(u.generated_tokens(), max_tokens);
  if (last.finish_reason() == v1::FINISH_REASON_LENGTH) {
    EXPECT_EQ(u.generated_tokens(), max_tokens);
  }
  // Each text message carries at least one token's text.
  EXPECT_LE(g.text_messages, u.generated_tokens());
  if (u.generated_tokens() > 0) {
    EXPECT_GT(u.time_to_first_token_seconds(), 0.0);
    EXPECT_GE(u.total_seconds(), u.time_to_first_token_seconds());
  }
}

// A 2 MB document (with non-ASCII text) streamed in uneven chunks, cut
// inside UTF-8 characters too, reads into exactly the session that one
// message with the whole document gives, and the answers are the same.
TEST(ServerE2E, UnevenChunksGiveTheSameSessionAndAnswersAsTheWholeDocument) {
  const std::string doc = make_document(2 << 20);
  const uint32_t seed = 20240611;
  // Random sizes, every third cut then moved forward into the next
  // multi-byte character (the document has one every 4000 bytes).
  std::vector<size_t> cuts;
  size_t pos = 0;
  for (const auto& c : random_chunks(doc, 70000, seed)) cuts.push_back(pos += c.size());
  cuts.pop_back();  // the end of the document
  for (size_t i = 0; i < cuts.size(); i += 3) {
    size_t moved = cuts[i];
    while (moved < doc.size() && !is_utf8_continuation(doc[moved])) ++moved;
    if (moved < doc.size() && (i + 1 == cuts.size() || moved < cuts[i + 1])) cuts[i] = moved;
  }
  std::vector<std::string> chunks;
  size_t cuts_inside_characters = 0;
  pos = 0;
  for (size_t cut : cuts) {
    if (is_utf8_continuation(doc[cut])) ++cuts_inside_characters;
    chunks.push_back(doc.substr(pos, cut - pos));
    pos = cut;
  }
  chunks.push_back(doc.substr(pos));
  size_t total = 0;
  for (const auto& c : chunks) total += c.size();
  ASSERT_EQ(total, doc.size());
  std::printf("document %zu bytes in %zu chunks (seed %u), %zu cuts inside a character\n",
              doc.size(), chunks.size(), seed, cuts_inside_characters);
  // The test is only as good as its cuts: some must split a character.
  ASSERT_GT(chunks.size(), 30u);
  ASSERT_GE(cuts_inside_characters, chunks.size() / 4);

  auto server = ServerProcess::start();
  // Both documents read at once: one worker each.
  auto uneven_future = std::async(std::launch::async, [&] {
    auto stub = new_stub(*server);
    return ingest_raw(*stub, text_messages("", chunks, /*flush=*/false));
  });
  auto whole_future = std::async(std::launch::async, [&] {
    auto stub = new_stub(*server);
    return ingest_raw(*stub, text_messages("", {doc}, /*flush=*/false));
  });
  const IngestCall uneven = uneven_future.get();
  const IngestCall whole = whole_future.get();
  std::printf("ingest: %.2f s engine time in %zu chunks, %.2f s in one message\n",
              uneven.response.seconds(), chunks.size(), whole.response.seconds());
  ASSERT_TRUE(uneven.status.ok()) << describe(uneven.status);
  ASSERT_TRUE(whole.status.ok()) << describe(whole.status);
  EXPECT_EQ(uneven.response.chunks(), static_cast<int64_t>(chunks.size()));
  EXPECT_EQ(whole.response.chunks(), 1);
  EXPECT_EQ(uneven.response.bytes(), static_cast<int64_t>(doc.size()));
  EXPECT_EQ(whole.response.bytes(), static_cast<int64_t>(doc.size()));
  EXPECT_EQ(uneven.response.tokens(), whole.response.tokens());
  EXPECT_EQ(uneven.response.segments(), whole.response.segments());

  auto stub = new_stub(*server);
  const std::string uneven_id = uneven.response.session().id();
  const std::string whole_id = whole.response.session().id();
  v1::Session a, b;
  ASSERT_TRUE(get_session(*stub, uneven_id, &a).ok());
  ASSERT_TRUE(get_session(*stub, whole_id, &b).ok());
  std::printf("session: %lld tokens, %lld segments, %lld bytes pending, %lld state bytes\n",
              static_cast<long long>(a.tokens()), static_cast<long long>(a.segments()),
              static_cast<long long>(a.pending_text_bytes()),
              static_cast<long long>(a.state_bytes()));
  EXPECT_GT(a.tokens(), 400000);  // about 4 bytes per token
  EXPECT_GT(a.segments(), 0);
  expect_same_counts(a, b, "before the flush");

  const auto params = greedy_params(16);
  const Generation ask_a = ask_raw(*stub, uneven_id, "What is this document about?", params);
  const Generation ask_b = ask_raw(*stub, whole_id, "What is this document about?", params);
  expect_final_message(ask_a, 16);
  expect_final_message(ask_b, 16);
  EXPECT_GT(ask_a.final_message.usage().generated_tokens(), 0);
  EXPECT_EQ(ask_a.text, ask_b.text);
  EXPECT_EQ(ask_a.final_message.finish_reason(), ask_b.final_message.finish_reason());
  EXPECT_EQ(ask_a.final_message.usage().generated_tokens(),
            ask_b.final_message.usage().generated_tokens());
  const Generation sum_a = summarize_raw(*stub, uneven_id, params);
  const Generation sum_b = summarize_raw(*stub, whole_id, params);
  expect_final_message(sum_a, 16);
  expect_final_message(sum_b, 16);
  EXPECT_EQ(sum_a.text, sum_b.text);

  // A flush-only message tokenizes the pending text in both the same way.
  for (const auto& id : {uneven_id, whole_id}) {
    const IngestCall flush = ingest_raw(*stub, text_messages(id, {}, /*flush=*/true));
    ASSERT_TRUE(flush.status.ok()) << describe(flush.status);
  }
  ASSERT_TRUE(get_session(*stub, uneven_id, &a).ok());
  ASSERT_TRUE(get_session(*stub, whole_id, &b).ok());
  EXPECT_EQ(a.pending_text_bytes(), 0);
  expect_same_counts(a, b, "after the flush");
  const Generation flushed_a = ask_raw(*stub, uneven_id, "What is this document about?", params);
  const Generation flushed_b = ask_raw(*stub, whole_id, "What is this document about?", params);
  expect_final_message(flushed_a, 16);
  EXPECT_EQ(flushed_a.text, flushed_b.text);
  // Asking tokenizes pending text on a fork: the flushed session answers the same.
  EXPECT_EQ(flushed_a.text, ask_a.text);
}

// The server answers exactly as `infini run` does for the same checkpoint,
// document and question (both greedy, both with the template's stops), with
// and without a prompt_template.json document_prefix, and with a chat
// template (ChatML, in tokenizer_config.json; docs/chat-templates.md).
TEST(ServerE2E, AnswersMatchTheInfiniRunTool) {
  TempDir doc_dir;
  const std::string doc = make_document(20000, 14);
  const fs::path doc_path = doc_dir.path() / "doc.txt";
  {
    std::ofstream out(doc_path, std::ios::binary);
    out << doc;
  }
  const std::string question = "What is it about?";
  struct Case {
    const char* name;
    const char* prompt_template;
    const char* tokenizer_config = nullptr;
  };
  for (const Case& c :
       {Case{"template stops only", R"({"stop": ["<never-occurs>"]})"},
        Case{"with a document_prefix",
             R"({"document_prefix": "Title: a test document\n\n", "stop": ["<never-occurs>"]})"},
        Case{"with a chat template", R"({"system_prompt": "Be brief.", "stop": ["<never-occurs>"]})",
             R"({"chat_template": "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"})"}}) {
    SCOPED_TRACE(c.name);
    TempDir model_dir;
    for (const auto& entry : fs::directory_iterator(test_model_dir())) {
      fs::copy(entry.path(), model_dir.path() / entry.path().filename());
    }
    {
      std::ofstream out(model_dir.path() / "prompt_template.json");
      out << c.prompt_template;
    }
    if (c.tokenizer_config != nullptr) {
      std::ofstream out(model_dir.path() / "tokenizer_config.json");
      out << c.tokenizer_config;
    }
    const CommandResult tool = run_command(
        {bin_path("infini"), "run", "--model", model_dir.path().string(), "--doc",
         doc_path.string(), "--question", question, "--max-tokens", "16", "--no-progress"},
        60s, /*separate_stderr=*/true);
    ASSERT_EQ(tool.exit_code, 0) << tool.output << tool.error_output;
    std::string tool_answer = tool.output;
    ASSERT_FALSE(tool_answer.empty());
    tool_answer.pop_back();  // the tool ends the answer with a newline
    std::smatch read;
    ASSERT_TRUE(std::regex_search(tool.error_output, read, std::regex(R"(read (\d+) tokens)")))
        << tool.error_output;

    auto server = ServerProcess::start({}, model_dir.path().string());
    client::InfiniClient client(server->channel());
    const v1::IngestResponse ingested = client.ingest(doc);
    client::GenerationParams params;
    params.max_tokens = 16;  // stop: the template's
    const auto answer = client.ask(ingested.session().id(), question, params);
    EXPECT_EQ(ingested.session().tokens(), std::stoll(read[1]))
        << "the tool and the server read different token counts";
    EXPECT_EQ(answer.text, tool_answer);
  }
}

// Session B's answers depend only on B's document, even while A reads more.
TEST_F(ServerE2EShared, SessionsDoNotSeeEachOther) {
  ServerProcess* server = &this->server();
  client::InfiniClient client(server->channel());
  const std::string doc_a = make_document(40000, 1);
  const std::string doc_b = make_document(40000, 2);
  const std::string more_a = make_document(40000, 3);

  const v1::Session a = client.create_session({{"name", "a"}});
  const v1::Session b = client.create_session({{"name", "b"}});
  client::IngestOptions options;
  options.chunk_bytes = 3001;
  // Interleaved: both sessions read at the same time.
  auto ingest_into = [&](const std::string& id, const std::string& doc) {
    client::IngestOptions o = options;
    o.session_id = id;
    return client.ingest(doc, o);
  };
  auto fa = std::async(std::launch::async, ingest_into, a.id(), doc_a);
  auto fb = std::async(std::launch::async, ingest_into, b.id(), doc_b);
  const v1::IngestResponse ra = fa.get();
  const v1::IngestResponse rb = fb.get();
  EXPECT_EQ(ra.session().id(), a.id());
  EXPECT_EQ(rb.session().id(), b.id());

  client::GenerationParams greedy;
  greedy.max_tokens = 16;
  greedy.stop = {kNeverStop};
  const std::string question = "Who wrote it?";
  const auto b_before = client.ask(b.id(), question, greedy);

  // A reads more while B is asked again.
  auto more = std::async(std::launch::async, ingest_into, a.id(), more_a);
  const auto b_during = client.ask(b.id(), question, greedy);
  const v1::IngestResponse more_r = more.get();
  const auto b_after = client.ask(b.id(), question, greedy);
  const auto b_summary = client.summarize(b.id(), greedy);

  // A fresh session given only B's document.
  client::IngestOptions fresh_options = options;
  const v1::IngestResponse fresh = client.ingest(doc_b, fresh_options);
  const auto fresh_answer = client.ask(fresh.session().id(), question, greedy);
  const auto fresh_summary = client.summarize(fresh.session().id(), greedy);

  const v1::Session b_now = client.get_session(b.id());
  EXPECT_EQ(b_now.tokens(), fresh.session().tokens());
  EXPECT_EQ(b_now.segments(), fresh.session().segments());
  const v1::Session a_now = client.get_session(a.id());
  EXPECT_EQ(a_now.tokens(), ra.session().tokens() + more_r.tokens());
  EXPECT_EQ(a_now.tokens(), more_r.session().tokens());
  EXPECT_GT(more_r.tokens(), 0);
  EXPECT_FALSE(fresh_answer.text.empty());
  EXPECT_EQ(b_before.text, fresh_answer.text);
  EXPECT_EQ(b_during.text, fresh_answer.text);
  EXPECT_EQ(b_after.text, fresh_answer.text);
  EXPECT_EQ(b_summary.text, fresh_summary.text);
  EXPECT_EQ(b_now.labels().at("name"), "b");
}

// Asking (greedy or sampled) never changes a session; a seed reproduces a
// sampled answer.
TEST_F(ServerE2EShared, AskingIsReproducibleAndLeavesTheSessionUnchanged) {
  ServerProcess* server = &this->server();
  client::InfiniClient client(server->channel());
  client::IngestOptions options;
  options.chunk_bytes = 9000;
  options.flush = false;  // keep some text pending: asking must not consume it
  const v1::IngestResponse ingested = client.ingest(make_document(60000, 4), options);
  const std::string id = ingested.session().id();
  const v1::Session before = client.get_session(id);
  EXPECT_GT(before.pending_text_bytes(), 0);

  client::GenerationParams greedy;
  greedy.max_tokens = 16;
  greedy.stop = {kNeverStop};
  const auto first_greedy = client.ask(id, "What happens next?", greedy);

  client::GenerationParams sampled = greedy;
  sampled.temperature = 0.9f;
  sampled.top_k = 50;
  sampled.top_p = 0.95f;
  sampled.seed = 1234;
  const auto s1 = client.ask(id, "What happens next?", sampled);
  const auto s2 = client.ask(id, "What happens next?", sampled);
  const auto summary = client.summarize(id, sampled);
  EXPECT_EQ(s1.text, s2.text);
  EXPECT_EQ(s1.usage.generated_tokens(), s2.usage.generated_tokens());
  EXPECT_GT(s1.usage.generated_tokens(), 0);

  const v1::Session after = client.get_session(id);
  expect_same_counts(before, after, "after asking");
  const auto second_greedy = client.ask(id, "What happens next?", greedy);
  EXPECT_EQ(first_greedy.text, second_greedy.text);
  EXPECT_FALSE(first_greedy.text.empty());
  (void)summary;
}

// The final message of Ask (raw stub): finish reason and usage that agree
// with what was streamed.
TEST_F(ServerE2EShared, FinalMessageCarriesFinishReasonAndUsage) {
  ServerProcess* server = &this->server();
  auto stub = new_stub(*server);
  const IngestCall ingested =
      ingest_raw(*stub, text_messages("", fixed_chunks(make_document(20000, 5), 4096), true));
  ASSERT_TRUE(ingested.status.ok()) << describe(ingested.status);
  const std::string id = ingested.response.session().id();

  for (int32_t max_tokens : {1, 7, 24}) {
    SCOPED_TRACE("max_tokens " + std::to_string(max_tokens));
    const Generation g = ask_raw(*stub, id, "Why?", greedy_params(max_tokens));
    expect_final_message(g, max_tokens);
    EXPECT_GT(g.final_message.usage().generated_tokens(), 0);
    EXPECT_NE(g.final_message.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
  }
  // With the template's default stop ("\n") the answer stops at the first
  // newline or earlier: never longer than max_tokens and never holding "\n".
  v1::GenerationParams defaults;
  defaults.set_max_tokens(32);
  const Generation g = ask_raw(*stub, id, "Why?", defaults);
  expect_final_message(g, 32);
  EXPECT_EQ(g.text.find('\n'), std::string::npos) << g.text;
  if (g.final_message.finish_reason() == v1::FINISH_REASON_STOP) {
    EXPECT_LT(g.final_message.usage().generated_tokens(), 32);
  }
  // The client library reports the same usage as the stream.
  client::InfiniClient client(server->channel());
  client::GenerationParams p;
  p.max_tokens = 7;
  p.stop = {kNeverStop};
  std::string streamed;
  const auto r = client.ask(id, "Why?", p, [&](std::string_view d) {
    streamed += d;
    return true;
  });
  EXPECT_EQ(r.text, streamed);
  EXPECT_EQ(r.text, ask_raw(*stub, id, "Why?", greedy_params(7)).text);
  EXPECT_LE(r.usage.generated_tokens(), 7);
  EXPECT_GT(r.usage.prompt_tokens(), 0);
  EXPECT_GT(r.usage.time_to_first_token_seconds(), 0.0);
}

// A fork is an independent copy: same state, then its own history.
TEST_F(ServerE2EShared, ForkIsAnIndependentCopy) {
  ServerProcess* server = &this->server();
  client::InfiniClient client(server->channel());
  client::IngestOptions options;
  options.chunk_bytes = 5000;
  options.labels = {{"origin", "source"}};
  const v1::IngestResponse src = client.ingest(make_document(30000, 6), options);
  const std::string id = src.session().id();
  client::GenerationParams greedy;
  greedy.max_tokens = 16;
  greedy.stop = {kNeverStop};
  const auto original_answer = client.ask(id, "And then?", greedy);

  const v1::Session fork = client.fork_session(id, {{"origin", "fork"}});
  EXPECT_NE(fork.id(), id);
  EXPECT_EQ(fork.labels().at("origin"), "fork");
  expect_same_counts(client.get_session(id), fork, "fork");
  EXPECT_EQ(client.ask(fork.id(), "And then?", greedy).text, original_answer.text);
  const v1::Session unlabelled_fork = client.fork_session(id);
  EXPECT_EQ(unlabelled_fork.labels().at("origin"), "source");

  client::IngestOptions more;
  more.session_id = fork.id();
  more.chunk_bytes = 4000;
  const v1::IngestResponse grown = client.ingest(make_document(30000, 7), more);
  EXPECT_GT(grown.session().tokens(), src.session().tokens());

  const v1::Session original = client.get_session(id);
  EXPECT_EQ(original.tokens(), src.session().tokens());
  EXPECT_EQ(original.segments(), src.session().segments());
  EXPECT_EQ(original.pending_text_bytes(), src.session().pending_text_bytes());
  EXPECT_EQ(client.ask(id, "And then?", greedy).text, original_answer.text);
  // Deleting the source leaves the fork.
  client.delete_session(id);
  EXPECT_EQ(client.get_session(fork.id()).tokens(), grown.session().tokens());
}

TEST(ServerE2E, ListSessionsPagesAndDeleteRemoves) {
  auto server = ServerProcess::start();
  client::InfiniClient client(server->channel());
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) created.insert(client.create_session().id());
  ASSERT_EQ(created.size(), 5u);

  std::vector<std::string> listed;
  std::vector<size_t> page_sizes;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    const v1::ListSessionsResponse r = client.list_sessions(2, token);
    page_sizes.push_back(static_cast<size_t>(r.sessions_size()));
    for (const auto& s : r.sessions()) listed.push_back(s.id());
    token = r.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), created);
  EXPECT_EQ(listed.size(), 5u);
  EXPECT_EQ(client.list_all_sessions(2).size(), 5u);
  EXPECT_EQ(client.list_sessions().sessions_size(), 5);  // default page size

  const std::string victim = *created.begin();
  client.delete_session(victim);
  try {
    client.get_session(victim);
    ADD_FAILURE() << "GetSession of a deleted session succeeded";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(e.message().find(victim), std::string::npos) << e.message();
  }
  try {
    client.delete_session(victim);
    ADD_FAILURE() << "deleting twice succeeded";
  } catch (const client::ClientError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(client.list_all_sessions(2).size(), 4u);
}

TEST_F(ServerE2EShared, ReflectionListsServicesAndDescribesLongContext) {
  ServerProcess* server = &this->server();
  auto stub = rv::ServerReflection::NewStub(server->channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto stream = stub->ServerReflectionInfo(&context);

  rv::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  rv::ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::set<std::string> services;
  for (const auto& s : listed.list_services_response().service()) services.insert(s.name());
  EXPECT_TRUE(services.count("infini.v1.LongContext"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(services.count("grpc.reflection.v1alpha.ServerReflection"));

  rv::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("infini.v1.LongContext");
  ASSERT_TRUE(stream->Write(symbol));
  rv::ServerReflectionResponse described;
  ASSERT_TRUE(stream->Read(&described));
  ASSERT_TRUE(described.has_file_descriptor_response())
      << described.error_response().error_message();
  bool found = false;
  for (const auto& bytes : described.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    for (const auto& service : file.service()) {
      if (file.package() != "infini.v1" || service.name() != "LongContext") continue;
      found = true;
      std::map<std::string, const google::protobuf::MethodDescriptorProto*> methods;
      for (const auto& m : service.method()) methods[m.name()] = &m;
      EXPECT_EQ(service.method_size(), 10);
      for (const char* name : {"CreateSession", "GetSession", "ListSessions", "DeleteSession",
                               "ForkSession", "Ingest", "Ask", "Summarize", "ExportSession",
                               "ImportSession"}) {
        EXPECT_TRUE(methods.count(name)) << name;
      }
      if (methods.count("Ingest")) EXPECT_TRUE(methods["Ingest"]->client_streaming());
      if (methods.count("Ask")) EXPECT_TRUE(methods["Ask"]->server_streaming());
      if (methods.count("Summarize")) EXPECT_TRUE(methods["Summarize"]->server_streaming());
      if (methods.count("ExportSession")) {
        EXPECT_TRUE(methods["ExportSession"]->server_streaming());
      }
      if (methods.count("ImportSession")) {
        EXPECT_TRUE(methods["ImportSession"]->client_streaming());
      }
    }
  }
  EXPECT_TRUE(found) << "no FileDescriptorProto names infini.v1.LongContext";

  rv::ServerReflectionRequest unknown;
  unknown.set_file_containing_symbol("no.such.Service");
  ASSERT_TRUE(stream->Write(unknown));
  rv::ServerReflectionResponse error;
  ASSERT_TRUE(stream->Read(&error));
  EXPECT_EQ(error.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << describe(status);
}

TEST_F(ServerE2EShared, HealthCheckAnswersServing) {
  ServerProcess* server = &this->server();
  auto stub = grpc::health::v1::Health::NewStub(server->channel());
  for (const char* service : {"", "infini.v1.LongContext"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << "'" << service << "': " << describe(status);
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << "'" << service << "'";
  }
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(stub->Check(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

// `infini-client health` is the container's HEALTHCHECK: exit 0 only when serving.
TEST_F(ServerE2EShared, ClientHealthCommandIsAProbe) {
  ServerProcess* server = &this->server();
  const std::string client = bin_path("infini-client");
  const CommandResult serving =
      run_command({client, "--server", server->target(), "--timeout", "10", "health"}, 30s, true);
  EXPECT_EQ(serving.exit_code, 0) << serving.output << serving.error_output;
  EXPECT_EQ(serving.output, "SERVING\n");
  const CommandResult api = run_command(
      {client, "--server", server->target(), "health", "--service", "infini.v1.LongContext"}, 30s,
      true);
  EXPECT_EQ(api.exit_code, 0) << api.error_output;
  EXPECT_EQ(api.output, "SERVING\n");
  const CommandResult unknown = run_command(
      {client, "--server", server->target(), "health", "--service", "no.such.Service"}, 30s, true);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.error_output.find("NOT_FOUND"), std::string::npos) << unknown.error_output;

  // Nothing listening: UNAVAILABLE within the timeout, exit 1.
  const int closed = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return static_cast<int>(ntohs(addr.sin_port));
  }();
  const CommandResult down = run_command(
      {client, "--server", "127.0.0.1:" + std::to_string(closed), "--timeout", "2", "health"}, 30s,
      true);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.error_output.find("UNAVAILABLE"), std::string::npos) << down.error_output;
  EXPECT_EQ(run_command({client, "health", "extra"}, 30s, true).exit_code, 2);
}

}  // namespace
}  // namespace infini::e2e
