#include "server/rpc/rpc_call.h"

#include <spdlog/spdlog.h>

#include "server/admission/limit.h"
#include "server/status.h"

namespace infini::server {

RpcCall::RpcCall(const ServiceContext& context, std::string method)
    : context_(context), method_(std::move(method)) {
  context_.metrics->add_in_flight(1);
}

RpcCall::~RpcCall() {
  if (!recorded_) done(grpc::Status(grpc::StatusCode::CANCELLED, "abandoned"));
}

grpc::Status RpcCall::status_of_current_exception() {
  try {
    throw;
  } catch (const LimitExceeded& e) {
    if (!recorded_) context_.metrics->record_limit_hit(e.limit());
  } catch (...) {
  }
  return current_exception_status();
}

void RpcCall::done(const grpc::Status& status) {
  if (recorded_) return;
  recorded_ = true;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const char* code = status_code_name(status.error_code());
  context_.metrics->add_in_flight(-1);
  context_.metrics->record_rpc(method_, code, seconds);
  // Never the document text or the question: ids, counts and codes only.
  auto logger = spdlog::get("server");
  if (!logger) return;
  if (status.ok()) {
    logger->info("rpc method={} session={} tokens={} duration_ms={:.1f} status={}", method_,
                 session_.empty() ? "-" : session_, tokens_, seconds * 1e3, code);
  } else {
    logger->warn("rpc method={} session={} tokens={} duration_ms={:.1f} status={} error=\"{}\"",
                 method_, session_.empty() ? "-" : session_, tokens_, seconds * 1e3, code,
                 status.error_message());
  }
}

bool submit_task(const ServiceContext& context, const std::shared_ptr<SerialQueue>& queue,
                 std::function<void()> task) {
  const bool queued = context.scheduler->submit(queue, std::move(task));
  context.metrics->set_queue_depth(context.scheduler->queued());
  return queued;
}

void submit_or_refuse(const ServiceContext& context, const std::shared_ptr<SerialQueue>& queue,
                      std::function<void()> task, const char* refusal) {
  if (!submit_task(context, queue, std::move(task))) throw LimitExceeded(Limit::kQueue, refusal);
}

}  // namespace infini::server
