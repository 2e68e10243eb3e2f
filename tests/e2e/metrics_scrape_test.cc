// GET /metrics from the real infini-server: valid for promtool, and the
// counters and gauges move by exactly the work the test did.
#include <sys/wait.h>

#include <cstdio>
#include <future>
#include <thread>

#include "engine/tokenizer.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

// `promtool check metrics` reading `exposition` on stdin; exit code and output.
CommandResult promtool_check(const std::string& exposition) {
  TempDir dir("infini-promtool");
  const fs::path input = dir.path() / "metrics.txt";
  {
    std::ofstream out(input, std::ios::binary);
    out << exposition;
  }
  const std::string command =
      std::string(kPromtool) + " check metrics < '" + input.string() + "' 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void expect_promtool_accepts(const std::string& exposition, const char* when) {
  ASSERT_TRUE(fs::exists(kPromtool))
      << kPromtool << " is missing: scripts/install-deps installs the Debian package "
      << "`prometheus`, which provides it";
  const CommandResult r = promtool_check(exposition);
  EXPECT_EQ(r.exit_code, 0) << "promtool check metrics (" << when << "):\n"
                            << r.output << "\n--- exposition ---\n"
                            << exposition.substr(0, 4000);
}

TEST(MetricsScrape, ExpositionPassesPromtool) {
  auto server = ServerProcess::start();
  const HttpResponse empty = http_get(server->metrics_port(), "/metrics");
  ASSERT_EQ(empty.status, 200) << empty.headers;
  EXPECT_NE(empty.headers.find("text/plain; version=0.0.4"), std::string::npos) << empty.headers;
  expect_promtool_accepts(empty.body, "fresh server");

  // Work of every kind, including failures, so that labelled series exist.
  auto stub = new_stub(*server);
  const IngestCall ingest = ingest_raw(*stub, text_messages("", {"Some text. ", "More. "}, true));
  ASSERT_TRUE(ingest.status.ok()) << describe(ingest.status);
  const std::string id = ingest.response.session().id();
  ASSERT_TRUE(ask_raw(*stub, id, "Why?", greedy_params(4)).status.ok());
  ASSERT_TRUE(summarize_raw(*stub, id, greedy_params(4)).status.ok());
  EXPECT_FALSE(ask_raw(*stub, "missing", "Why?", greedy_params(4)).status.ok());
  EXPECT_FALSE(ingest_raw(*stub, text_messages(id, {"bad \xff"}, false)).status.ok());

  const HttpResponse busy = http_get(server->metrics_port(), "/metrics");
  ASSERT_EQ(busy.status, 200);
  expect_promtool_accepts(busy.body, "after work");
  const auto samples = parse_metrics(busy.body);
  for (const char* name : {"infini_rpc_requests_total", "infini_rpc_duration_seconds_bucket",
                           "infini_ingested_tokens_total", "infini_ingest_chunks_total",
                           "infini_segments_folded_total", "infini_generated_tokens_total",
                           "infini_time_to_first_token_seconds_bucket", "infini_sessions_active",
                           "infini_state_bytes", "infini_kv_equivalent_bytes", "infini_queue_depth",
                           "infini_requests_in_flight", "process_resident_memory_bytes"}) {
    EXPECT_TRUE(has_metric(samples, name)) << name;
  }
  // Never a session id in a label.
  for (const auto& s : samples) {
    for (const auto& [key, value] : s.labels) {
      EXPECT_EQ(value.find(id), std::string::npos) << s.name << " " << key << "=" << value;
    }
  }
  EXPECT_EQ(http_get(server->metrics_port(), "/nope").status, 404);
}

// Dashboards and alerts divide by these: they must be the flags' values.
TEST(MetricsScrape, ConfiguredLimitsAreExported) {
  auto server = ServerProcess::start(
      {"--queue-capacity", "17", "--max-sessions", "33", "--max-state-bytes", "123456789"});
  const auto samples = parse_metrics(http_get(server->metrics_port(), "/metrics").body);
  EXPECT_EQ(metric_value(samples, "infini_queue_capacity"), 17.0);
  EXPECT_EQ(metric_value(samples, "infini_sessions_limit"), 33.0);
  EXPECT_EQ(metric_value(samples, "infini_state_bytes_limit"), 123456789.0);
}

TEST(MetricsScrape, CountersMoveByExactlyTheWorkDone) {
  auto server = ServerProcess::start();
  auto stub = new_stub(*server);
  const auto before = scrape(*server);

  // One Ingest of N tokens in K chunks (the last one flushes).
  const std::string doc = make_document(30000, 11);
  const auto chunks = fixed_chunks(doc, 3000);
  const int64_t k = static_cast<int64_t>(chunks.size());
  const IngestCall ingest = ingest_raw(*stub, text_messages("", chunks, true));
  ASSERT_TRUE(ingest.status.ok()) << describe(ingest.status);
  const int64_t n = ingest.response.tokens();
  EXPECT_EQ(ingest.response.chunks(), k);
  const auto tokenizer = Tokenizer::load(test_model_dir() + "/tokenizer.model");
  EXPECT_EQ(n, static_cast<int64_t>(tokenizer->encode(doc).size()));
  const std::string id = ingest.response.session().id();

  // Two Asks of M tokens; a stop string that never occurs lets each run to M
  // (or end-of-text).
  constexpr int32_t m = 12;
  int64_t generated = 0, after_first = 0;
  for (const char* question : {"Why?", "How?"}) {
    const Generation g = ask_raw(*stub, id, question, greedy_params(m));
    ASSERT_TRUE(g.status.ok()) << describe(g.status);
    const int64_t tokens = g.final_message.usage().generated_tokens();
    if (g.final_message.finish_reason() == v1::FINISH_REASON_LENGTH) EXPECT_EQ(tokens, m);
    generated += tokens;
    after_first += std::max<int64_t>(0, tokens - 1);
  }
  // Two more sessions, and one failed call.
  v1::Session extra[2];
  for (auto& s : extra) {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CreateSession(&context, v1::CreateSessionRequest(), &s).ok());
  }
  EXPECT_EQ(ask_raw(*stub, "missing", "Why?", greedy_params(m)).status.error_code(),
            grpc::StatusCode::NOT_FOUND);

  const auto after = scrape(*server);
  auto delta = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return metric_value(after, name, labels) - metric_value(before, name, labels);
  };
  EXPECT_EQ(delta("infini_ingested_tokens_total"), static_cast<double>(n));
  EXPECT_EQ(delta("infini_ingest_chunks_total"), static_cast<double>(k));
  EXPECT_EQ(delta("infini_ingest_chunk_duration_seconds_count"), static_cast<double>(k));
  EXPECT_EQ(delta("infini_segments_folded_total"), static_cast<double>(ingest.response.segments()));
  EXPECT_EQ(delta("infini_rpc_requests_total", {{"method", "Ingest"}, {"code", "OK"}}), 1.0);
  EXPECT_EQ(delta("infini_rpc_requests_total", {{"method", "Ask"}, {"code", "OK"}}), 2.0);
  EXPECT_EQ(delta("infini_rpc_requests_total", {{"method", "Ask"}, {"code", "NOT_FOUND"}}), 1.0);
  EXPECT_EQ(delta("infini_rpc_requests_total", {{"method", "CreateSession"}, {"code", "OK"}}), 2.0);
  EXPECT_EQ(delta("infini_rpc_duration_seconds_count", {{"method", "Ask"}, {"code", "OK"}}), 2.0);
  EXPECT_EQ(delta("infini_generated_tokens_total"), static_cast<double>(generated));
  EXPECT_EQ(delta("infini_generation_requests_total"), 2.0);
  EXPECT_EQ(delta("infini_time_to_first_token_seconds_count"), 2.0);
  EXPECT_EQ(delta("infini_time_per_output_token_seconds_count"), static_cast<double>(after_first));

  v1::Session session;
  ASSERT_TRUE(get_session(*stub, id, &session).ok());
  const int64_t state = session.state_bytes();
  EXPECT_EQ(metric_value(after, "infini_sessions_active"), 3.0);
  EXPECT_EQ(metric_value(after, "infini_state_bytes"), 3.0 * static_cast<double>(state));
  EXPECT_EQ(metric_value(after, "infini_kv_equivalent_bytes"),
            static_cast<double>(session.kv_equivalent_bytes() + extra[0].kv_equivalent_bytes() +
                                extra[1].kv_equivalent_bytes()));
  EXPECT_NEAR(metric_value(after, "infini_compression_ratio"),
              static_cast<double>(session.kv_equivalent_bytes()) / (3.0 * state), 1e-6);
  EXPECT_EQ(metric_value(after, "infini_requests_in_flight"), 0.0);

  // A delete takes its state off the gauges.
  {
    grpc::ClientContext context;
    v1::DeleteSessionRequest request;
    request.set_session_id(extra[0].id());
    v1::DeleteSessionResponse response;
    ASSERT_TRUE(stub->DeleteSession(&context, request, &response).ok());
  }
  const auto deleted = scrape(*server);
  EXPECT_EQ(metric_value(deleted, "infini_sessions_active"), 2.0);
  EXPECT_EQ(metric_value(deleted, "infini_state_bytes"), 2.0 * static_cast<double>(state));
  std::printf("work: %lld tokens in %lld chunks, %lld generated; state %lld bytes/session\n",
              static_cast<long long>(n), static_cast<long long>(k),
              static_cast<long long>(generated), static_cast<long long>(state));
}

// infini_queue_depth ("waiting for a worker") falls back to 0 once the
// work is done. One worker: a long Ask keeps it busy while a second waits.
TEST(MetricsScrape, QueueDepthReturnsToZeroWhenIdle) {
  auto server = ServerProcess::start({"--threads", "1", "--max-tokens-limit", "100000"});
  auto stub = new_stub(*server);
  const IngestCall a = ingest_raw(*stub, text_messages("", {make_document(8000, 12)}, true));
  const IngestCall b = ingest_raw(*stub, text_messages("", {make_document(8000, 13)}, true));
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  auto long_ask = std::async(std::launch::async, [&] {
    auto own = new_stub(*server);
    return ask_raw(*own, a.response.session().id(), "Go on.", greedy_params(3000));
  });
  std::this_thread::sleep_for(300ms);  // the long Ask holds the only worker
  const auto during = scrape(*server);
  const Generation waited = ask_raw(*stub, b.response.session().id(), "Go on.", greedy_params(4));
  const Generation first = long_ask.get();
  ASSERT_TRUE(first.status.ok()) << describe(first.status);
  ASSERT_TRUE(waited.status.ok()) << describe(waited.status);
  std::printf("long Ask: %lld tokens in %.2f s; the short one waited %.2f s\n",
              static_cast<long long>(first.final_message.usage().generated_tokens()), first.seconds,
              waited.seconds);
  EXPECT_EQ(metric_value(during, "infini_requests_in_flight"), 1.0);

  const auto idle = scrape(*server);
  EXPECT_EQ(metric_value(idle, "infini_queue_depth"), 0.0)
      << "the gauge keeps the depth seen when the last task was queued";
  EXPECT_EQ(metric_value(idle, "infini_requests_in_flight"), 0.0);
}

}  // namespace
}  // namespace infini::e2e
