// CallReactor's finish rules (server/rpc/call_reactor.h) against a stand-in
// for grpc::ServerWriteReactor that fails on what the callback API forbids:
// Finish with a write outstanding, a second Finish, a write after Finish.
// The e2e counterpart against the real server: tests/e2e/generate_cancel_test.cc.
#include "server/rpc/call_reactor.h"

#include <gtest/gtest.h>

#include "server/metrics/metrics.h"

namespace infini::server {
namespace {

class FakeWriteReactor {
 public:
  virtual ~FakeWriteReactor() = default;
  virtual void OnCancel() {}
  virtual void OnDone() {}

  void StartWrite(const int*) {
    EXPECT_EQ(finishes, 0) << "StartWrite after Finish";
    EXPECT_FALSE(write_in_flight) << "two writes in flight";
    write_in_flight = true;
    ++writes;
  }
  void Finish(grpc::Status s) {
    EXPECT_FALSE(write_in_flight) << "Finish while a StartWrite is outstanding";
    ++finishes;
    status = std::move(s);
  }

  bool write_in_flight = false;
  int writes = 0;
  int finishes = 0;
  grpc::Status status;
};

class TestReactor final : public CallReactor<FakeWriteReactor> {
 public:
  explicit TestReactor(const ServiceContext& context) : CallReactor(context, "Test") {}
  void OnDone() override {}  // the test owns it
  using CallReactor::finish;
  using CallReactor::start_write;
  // What OnWriteDone does first.
  bool write_done() {
    write_in_flight = false;
    return write_completed();
  }
};

struct CallReactorTest : ::testing::Test {
  CallReactorTest() { context.metrics = &metrics; }
  ServerMetrics metrics;
  ServiceContext context;
  int message = 0;
};

TEST_F(CallReactorTest, FinishWithoutAWriteIsSentAtOnceAndOnlyOnce) {
  TestReactor r(context);
  r.finish(grpc::Status::OK);
  EXPECT_EQ(r.finishes, 1);
  r.finish(grpc::Status(grpc::StatusCode::INTERNAL, "late"));
  EXPECT_EQ(r.finishes, 1);
  EXPECT_TRUE(r.status.ok());
}

// The cancel (or error) of a generation mid-answer: the worker finishes
// while the last write is on the wire.
TEST_F(CallReactorTest, FinishDuringAWriteWaitsForItsCompletion) {
  TestReactor r(context);
  ASSERT_TRUE(r.start_write(&message));
  r.finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  EXPECT_EQ(r.finishes, 0) << "Finish was sent with the write outstanding";
  EXPECT_FALSE(r.start_write(&message)) << "a write started after finish()";
  EXPECT_FALSE(r.write_done()) << "OnWriteDone must write nothing more";
  EXPECT_EQ(r.finishes, 1);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(r.writes, 1);
}

TEST_F(CallReactorTest, WritesContinueUntilFinish) {
  TestReactor r(context);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.start_write(&message));
    ASSERT_TRUE(r.write_done());
  }
  r.finish(grpc::Status::OK);
  EXPECT_EQ(r.finishes, 1);
  EXPECT_EQ(r.writes, 3);
}

}  // namespace
}  // namespace infini::server
