// infini.v1.LongContext on gRPC's callback API. Methods are thin: check the
// request, find the session, hand engine work to the scheduler. Nothing
// here blocks a gRPC thread on the engine.
#pragma once

#include "proto/infini/v1/long_context.grpc.pb.h"
#include "server/rpc/service_context.h"

namespace infini::server {

class LongContextService final : public v1::LongContext::CallbackService {
 public:
  explicit LongContextService(const ServiceContext& context) : context_(context) {}

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* ctx,
                                          const v1::CreateSessionRequest* request,
                                          v1::Session* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* ctx,
                                       const v1::GetSessionRequest* request,
                                       v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* ctx,
                                         const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSession(grpc::CallbackServerContext* ctx,
                                          const v1::DeleteSessionRequest* request,
                                          v1::DeleteSessionResponse* response) override;
  grpc::ServerUnaryReactor* ForkSession(grpc::CallbackServerContext* ctx,
                                        const v1::ForkSessionRequest* request,
                                        v1::Session* response) override;
  grpc::ServerReadReactor<v1::IngestRequest>* Ingest(grpc::CallbackServerContext* ctx,
                                                     v1::IngestResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Ask(grpc::CallbackServerContext* ctx,
                                                      const v1::AskRequest* request) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Summarize(
      grpc::CallbackServerContext* ctx, const v1::SummarizeRequest* request) override;
  grpc::ServerWriteReactor<v1::SnapshotChunk>* ExportSession(
      grpc::CallbackServerContext* ctx, const v1::ExportSessionRequest* request) override;
  grpc::ServerReadReactor<v1::SnapshotChunk>* ImportSession(grpc::CallbackServerContext* ctx,
                                                            v1::Session* response) override;

 private:
  const ServiceContext& context_;
};

}  // namespace infini::server
