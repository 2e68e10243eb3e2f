// ExportSession / ImportSession: a session's snapshot (the --snapshot-dir
// format, session_snapshot.h) moved between servers as a stream of chunks of
// at most kSnapshotChunkBytes, so that no model's snapshot meets the message
// size limit. One reactor per call, as Ingest's and Ask's.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "proto/infini/v1/long_context.grpc.pb.h"
#include "proto/infini/v1/snapshot_chunk.h"
#include "server/admission/stream_slots.h"
#include "server/rpc/call_reactor.h"
#include "server/rpc/service_context.h"

namespace infini::server {

using v1::kSnapshotChunkBytes;  // proto/infini/v1/snapshot_chunk.h: the client sends so too

// The largest snapshot `sessions`' model can produce: its state, a partial
// segment's token ids, the most pending text the streaming encoder keeps,
// and 1 MiB for the id, tenant, labels and model identity. ImportSession
// accepts no more.
int64_t max_snapshot_bytes(const SessionManager& sessions);

// Server-streaming ExportSession: the snapshot is taken on the session's
// queue (after the calls sent before it, reloading an evicted session), then
// written a chunk at a time, one write in flight.
class ExportReactor final : public CallReactor<grpc::ServerWriteReactor<v1::SnapshotChunk>> {
 public:
  ExportReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                const std::string& session_id);

  void OnWriteDone(bool ok) override;

 private:
  void take_snapshot();  // worker thread, on the session's queue
  void write_next();     // one write in flight: from take_snapshot, then OnWriteDone

  std::shared_ptr<Session> session_;
  SessionUser user_;  // not evicted while its bytes are taken
  std::string bytes_;
  size_t sent_ = 0;
  v1::SnapshotChunk chunk_;
};

// Client-streaming ImportSession: chunks are collected up to
// max_snapshot_bytes(), then, on a worker, the whole snapshot is checked
// (frame, checksum, model identity, fields), restored under the session
// limits with its id for the caller's tenant, and written to
// --snapshot-dir when set.
class ImportReactor final : public CallReactor<grpc::ServerReadReactor<v1::SnapshotChunk>> {
 public:
  ImportReactor(const ServiceContext& context, const grpc::CallbackServerContext& ctx,
                v1::Session* response);

  void OnReadDone(bool ok) override;

 private:
  void restore();  // worker thread
  void check_pending(const SessionSnapshot& snapshot) const;

  v1::Session* response_;
  int64_t limit_bytes_ = 0;
  v1::SnapshotChunk chunk_;
  std::string bytes_;
  int64_t chunks_ = 0;
  // The restore task's own queue: it belongs to no session yet.
  std::shared_ptr<SerialQueue> queue_ = std::make_shared<SerialQueue>();
};

}  // namespace infini::server
