// Cancelling an Ask while the server is streaming its answer, against the
// real server, at a different point of the stream each round. Whether the
// worker sees the cancel with a write still in flight is a matter of timing
// (the deferred Finish, server/rpc/call_reactor.h, is checked exactly in
// tests/server/rpc/call_reactor_test.cc); whatever the timing, the call must
// end exactly once: the client gets CANCELLED, the stream slot and the
// in-flight gauge come back, and the next call runs.
#include <thread>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

// Waits until /metrics shows no open stream and no RPC in flight.
bool wait_until_idle(const ServerProcess& server, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto samples = scrape(server);
    if (metric_value(samples, "infini_streams_open") == 0 &&
        metric_value(samples, "infini_requests_in_flight") == 0) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST(GenerateCancel, CancelWhileAnswerIsStreamingFinishesOnceAndFreesTheSlot) {
  // One stream slot: a call that never reached OnDone would hold it, and
  // every later Ask would be refused.
  auto server = ServerProcess::start({"--max-streams", "1"});
  auto stub = new_stub(*server);
  const IngestCall ingested = ingest_raw(*stub, text_messages("", {make_document(4000)}, true));
  ASSERT_TRUE(ingested.status.ok()) << describe(ingested.status);
  const std::string id = ingested.response.session().id();
  // A call's slot is released when the server is done with it (OnDone),
  // just after the client has its status.
  ASSERT_TRUE(wait_until_idle(*server, std::chrono::seconds(20)));

  constexpr int kRounds = 12;
  int cancelled = 0;
  for (int round = 0; round < kRounds; ++round) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::AskRequest request;
    request.set_session_id(id);
    request.set_question("What comes next?");
    // As long an answer as the server allows, no stop: it is still being
    // written when the cancel comes.
    *request.mutable_params() = greedy_params(4096);
    auto reader = stub->Ask(&context, request);
    v1::GenerateResponse first;
    if (!reader->Read(&first)) {
      FAIL() << "round " << round << ": no first message: " << describe(reader->Finish());
    }
    // Cancel at a different point of the stream each round.
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 4 == 0 ? 0 : round * 3));
    context.TryCancel();
    v1::GenerateResponse m;
    while (reader->Read(&m)) {
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.error_code() == grpc::StatusCode::CANCELLED || status.ok())
        << "round " << round << ": " << describe(status);
    if (status.error_code() == grpc::StatusCode::CANCELLED) ++cancelled;
    ASSERT_TRUE(wait_until_idle(*server, std::chrono::seconds(20)))
        << "round " << round << ": the cancelled call never ended on the server";
  }
  EXPECT_GT(cancelled, 0) << "every answer ended before its cancel: nothing was tested";

  // Each call was recorded once, and the server still answers in full.
  const auto samples = scrape(*server);
  const double recorded =
      metric_value(samples, "infini_rpc_requests_total",
                   {{"method", "Ask"}, {"code", "CANCELLED"}}) +
      metric_value(samples, "infini_rpc_requests_total", {{"method", "Ask"}, {"code", "OK"}});
  EXPECT_EQ(recorded, kRounds);
  const Generation after = ask_raw(*stub, id, "And then?", greedy_params(8));
  ASSERT_TRUE(after.status.ok()) << describe(after.status);
  EXPECT_TRUE(after.has_final);
}

}  // namespace
}  // namespace infini::e2e
