// Client-streaming Ingest: one reactor per call. At most one read is in
// flight; each chunk is handed to the session's queue on the scheduler and
// the next read starts only when that chunk has been read into the session,
// so chunks apply in order and a chunk counts whole or not at all.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "proto/infini/v1/long_context.grpc.pb.h"
#include "server/rpc/rpc_call.h"
#include "server/rpc/service_context.h"

namespace infini::server {

class IngestReactor final : public grpc::ServerReadReactor<v1::IngestRequest> {
 public:
  // Authenticates the caller first (a refused call finishes before any read).
  IngestReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                v1::IngestResponse* response);

  void OnReadDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // gRPC thread: checks the message's shape, finds the session, queues the chunk.
  void accept(v1::IngestRequest request);
  // Worker thread: reads the chunk into the session.
  void apply(const v1::IngestRequest& request);
  // The client's side is closed: with snapshots on, write the session's
  // snapshot on its queue first, then finish (an error if it failed).
  void finish_durably();
  void finish(const grpc::Status& status);

  const ServiceContext& context_;
  v1::IngestResponse* response_;
  RpcCall call_;
  v1::IngestRequest request_;
  std::string tenant_;  // the caller's; "" when auth is off
  StreamSlots::Slot stream_slot_;  // held for the whole call (--max-streams)
  std::shared_ptr<Session> session_;
  bool first_message_ = true;
  std::atomic<bool> cancelled_{false};
  std::mutex finish_mutex_;
  bool finished_ = false;

  // Totals of this call.
  int64_t chunks_ = 0, bytes_ = 0, tokens_ = 0, segments_ = 0;
  double seconds_ = 0.0;
};

}  // namespace infini::server
