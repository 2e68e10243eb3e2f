// What every streaming reactor shares, written once: admission (the caller's
// tenant, then a stream slot), handing tasks to the scheduler, the RPC's
// bookkeeping (RpcCall), cancellation, and Finish exactly once.
//
// Finish and writes (gRPC's callback API: one write in flight; Finish once,
// and never a StartWrite after it): a server-streaming call that finishes
// while a StartWrite is outstanding (a worker sees the client cancel, or
// fails, mid-answer) does not call Finish then; the status waits until that
// write's OnWriteDone, which sends it (write_completed()). So Finish is
// always the call's last operation, after its last write has completed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "server/rpc/rpc_call.h"
#include "server/rpc/service_context.h"

namespace infini::server {

// `GrpcReactor`: grpc::ServerReadReactor<Request> or ServerWriteReactor<Response>.
template <class GrpcReactor>
class CallReactor : public GrpcReactor {
 public:
  void OnCancel() override { cancelled_ = true; }
  // After Finish and every reaction: any SessionUser goes with the reactor
  // (the stream slot went back just before Finish).
  void OnDone() override { delete this; }

 protected:
  CallReactor(const ServiceContext& context, const char* method)
      : context_(context), call_(context, method) {}

  // Admits the call: authenticates the caller (tenant_) and takes a stream
  // slot (--max-streams). Throws the refusal; call first, before reading or
  // validating anything.
  void admit(const grpc::CallbackServerContext& ctx) {
    tenant_ = caller_tenant(context_.authenticator, ctx);
    if (context_.streams != nullptr) stream_slot_ = context_.streams->acquire();
  }

  // Queues `task` on `queue` (see submit_or_refuse in rpc_call.h).
  void submit(const std::shared_ptr<SerialQueue>& queue, std::function<void()> task,
              const char* refusal = "the engine queue is full; retry later") {
    submit_or_refuse(context_, queue, std::move(task), refusal);
  }

  // The status the call ends with, given the first finish()'s; runs once, on
  // the finishing thread, before Finish (Ingest fills its response here).
  virtual grpc::Status completing(grpc::Status status) { return status; }

  // Finishes the call once; later calls are ignored. With a write
  // outstanding, Finish waits for its OnWriteDone (see above).
  void finish(grpc::Status status) {
    {
      std::lock_guard<std::mutex> lock(finish_mutex_);
      if (finishing_) return;
      finishing_ = true;  // no write starts from here on
    }
    status = completing(std::move(status));
    {
      std::lock_guard<std::mutex> lock(finish_mutex_);
      if (write_outstanding_) {
        deferred_ = std::move(status);
        return;
      }
    }
    send_finish(status);
  }

  // Server-streaming calls: starts a write of `message` (alive until its
  // OnWriteDone) unless the call is finishing, then returns false. At most
  // one write at a time: the next only after write_completed().
  template <class Response>
  bool start_write(const Response* message) {
    std::lock_guard<std::mutex> lock(finish_mutex_);
    if (finishing_) return false;
    write_outstanding_ = true;
    this->StartWrite(message);
    return true;
  }

  // Call first in OnWriteDone. False: the call is finishing (a Finish that
  // waited for this write is sent now); write nothing more.
  bool write_completed() {
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(finish_mutex_);
      write_outstanding_ = false;
      if (!finishing_) return true;
      // No status yet: finish() is still in completing() and sends it itself.
      if (!deferred_) return false;
      status = std::move(*deferred_);
      deferred_.reset();
    }
    send_finish(status);
    return false;
  }

  const ServiceContext& context_;
  RpcCall call_;
  std::string tenant_;  // the caller's; "" when auth is off
  std::atomic<bool> cancelled_{false};

 private:
  // The slot goes back before the status does: a caller that has seen its
  // call end may open the next stream at once (OnDone runs later, on gRPC's
  // own time).
  void send_finish(const grpc::Status& status) {
    call_.done(status);
    stream_slot_.release();
    this->Finish(status);
  }

  StreamSlots::Slot stream_slot_;  // held until the call's Finish
  std::mutex finish_mutex_;
  bool finishing_ = false;
  bool write_outstanding_ = false;
  std::optional<grpc::Status> deferred_;
};

}  // namespace infini::server
