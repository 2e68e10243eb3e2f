// Client-streaming Ingest: one reactor per call. At most one read is in
// flight; each chunk is handed to the session's queue on the scheduler and
// the next read starts only when that chunk has been read into the session,
// so chunks apply in order and a chunk counts whole or not at all.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "proto/infini/v1/long_context.grpc.pb.h"
#include "server/rpc/call_reactor.h"
#include "server/rpc/service_context.h"

namespace infini::server {

class IngestReactor final : public CallReactor<grpc::ServerReadReactor<v1::IngestRequest>> {
 public:
  // Authenticates the caller first (a refused call finishes before any read).
  IngestReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                v1::IngestResponse* response);

  void OnReadDone(bool ok) override;

 private:
  // gRPC thread: checks the message's shape, finds the session, queues the chunk.
  void accept(v1::IngestRequest request);
  // Worker thread: reads the chunk into the session.
  void apply(const v1::IngestRequest& request);
  // The client's side is closed: with snapshots on, write the session's
  // snapshot on its queue first, then finish (an error if it failed).
  void finish_durably();
  // OK: fills the response; an error after a session was found names it.
  grpc::Status completing(grpc::Status status) override;

  v1::IngestResponse* response_;
  v1::IngestRequest request_;
  std::shared_ptr<Session> session_;
  SessionUser user_;  // never evicted while this stream is open
  bool first_message_ = true;

  // Totals of this call.
  int64_t chunks_ = 0, bytes_ = 0, tokens_ = 0, segments_ = 0;
  double seconds_ = 0.0;
};

}  // namespace infini::server
