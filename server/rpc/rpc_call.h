// Bookkeeping every RPC shares: in-flight gauge, one log line, the request
// counter and latency histogram, all at the call's end.
#pragma once

#include <chrono>
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

}  // namespace infini::server
