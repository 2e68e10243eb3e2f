// Server-streaming Ask / Summarize: one reactor per call. The generation
// runs as a task on the session's queue (after the chunks sent before it),
// on a fork of the session's state; text deltas go into a per-call queue
// that OnWriteDone drains, one write in flight at a time.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "engine/generator.h"
#include "proto/infini/v1/long_context.grpc.pb.h"
#include "server/rpc/call_reactor.h"
#include "server/rpc/service_context.h"

namespace infini::server {

class GenerateReactor final : public CallReactor<grpc::ServerWriteReactor<v1::GenerateResponse>> {
 public:
  // `prompt` continues the session's text (the question's or the summary's
  // pieces, PromptTemplate); none: an empty question. Errors in the request
  // finish the call at once.
  // Authenticates the caller first; `ctx` is read only in the constructor.
  GenerateReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                  const char* method, const std::string& session_id,
                  std::vector<PromptPiece> prompt, const v1::GenerationParams& params);

  void OnWriteDone(bool ok) override;

 private:
  void generate();  // worker thread
  void push(v1::GenerateResponse message, bool last);

  std::shared_ptr<Session> session_;
  std::vector<PromptPiece> prompt_;
  GenerationRequest request_;
  std::chrono::steady_clock::time_point arrived_ = std::chrono::steady_clock::now();

  // Lock order: mutex_, then CallReactor's.
  std::mutex mutex_;
  std::deque<v1::GenerateResponse> outbox_;  // front: the write in flight
  bool writing_ = false;
  bool last_queued_ = false;
};

}  // namespace infini::server
