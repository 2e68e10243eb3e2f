// Bookkeeping every RPC shares: in-flight gauge, one log line, the request
// counter and latency histogram, all at the call's end; and handing a task
// to the scheduler with the queue-depth gauge kept current.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/support/status.h>

#include "server/rpc/service_context.h"

namespace infini::server {

class RpcCall {
 public:
  RpcCall(const ServiceContext& context, std::string method);
  ~RpcCall();  // records a call that never called done() as CANCELLED

  void set_session(const std::string& id) { session_ = id; }
  void add_tokens(int64_t tokens) { tokens_ += tokens; }
  // Records the outcome once; later calls are ignored.
  void done(const grpc::Status& status);
  // The status of the exception being handled (call only inside a catch
  // block). A refusal by one of the server's limits (LimitExceeded) is
  // counted here, so each refused call counts once, by limit.
  grpc::Status status_of_current_exception();

 private:
  const ServiceContext& context_;
  std::string method_;
  std::string session_;
  int64_t tokens_ = 0;
  bool recorded_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Queues `task` on `queue` and refreshes the queue-depth gauge, whether or
// not it was queued; false when the engine queue is full.
bool submit_task(const ServiceContext& context, const std::shared_ptr<SerialQueue>& queue,
                 std::function<void()> task);

// As submit_task, but a full queue throws LimitExceeded(Limit::kQueue,
// `refusal`): the call fails RESOURCE_EXHAUSTED and RpcCall counts the limit
// hit once (status_of_current_exception).
void submit_or_refuse(const ServiceContext& context, const std::shared_ptr<SerialQueue>& queue,
                      std::function<void()> task, const char* refusal);

}  // namespace infini::server
