#include "server/rpc/long_context_service.h"

#include <memory>

#include "server/rpc/generate_reactor.h"
#include "server/rpc/ingest_reactor.h"
#include "server/rpc/request_validation.h"
#include "server/rpc/rpc_call.h"
#include "server/rpc/session_proto.h"
#include "server/rpc/session_transfer.h"
#include "server/status.h"

namespace infini::server {

namespace {

// Runs `body` (which may throw) and finishes the unary call with its status.
template <typename Body>
grpc::ServerUnaryReactor* unary(grpc::CallbackServerContext* ctx, const ServiceContext& context,
                                const char* method, Body&& body) {
  auto* reactor = ctx->DefaultReactor();
  RpcCall call(context, method);
  grpc::Status status;
  try {
    body(call);
  } catch (...) {
    status = call.status_of_current_exception();
  }
  call.done(status);
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* LongContextService::CreateSession(grpc::CallbackServerContext* ctx,
                                                            const v1::CreateSessionRequest* request,
                                                            v1::Session* response) {
  return unary(ctx, context_, "CreateSession", [&](RpcCall& call) {
    const std::string tenant = caller_tenant(context_.authenticator, *ctx);
    check_message_bytes(request->ByteSizeLong(), context_.max_message_bytes,
                        "the CreateSession request");
    Labels labels(request->labels().begin(), request->labels().end());
    auto session = context_.sessions->create(labels, tenant);
    call.set_session(session->id);
    fill_session_proto(*session, *context_.sessions, context_.model_name, response);
  });
}

grpc::ServerUnaryReactor* LongContextService::GetSession(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSessionRequest* request,
                                                         v1::Session* response) {
  return unary(ctx, context_, "GetSession", [&](RpcCall& call) {
    const std::string tenant = caller_tenant(context_.authenticator, *ctx);
    require_id(request->session_id(), "session_id");
    call.set_session(request->session_id());
    auto session = context_.sessions->get(request->session_id(), tenant);
    fill_session_proto(*session, *context_.sessions, context_.model_name, response);
  });
}

grpc::ServerUnaryReactor* LongContextService::ListSessions(grpc::CallbackServerContext* ctx,
                                                           const v1::ListSessionsRequest* request,
                                                           v1::ListSessionsResponse* response) {
  return unary(ctx, context_, "ListSessions", [&](RpcCall&) {
    const std::string tenant = caller_tenant(context_.authenticator, *ctx);
    const int64_t size = resolve_page_size(*request);
    auto page = context_.sessions->list(size, request->page_token(), tenant);
    for (const auto& s : page.sessions) {
      fill_session_proto(*s, *context_.sessions, context_.model_name, response->add_sessions());
    }
    response->set_next_page_token(page.next_token);
  });
}

grpc::ServerUnaryReactor* LongContextService::DeleteSession(grpc::CallbackServerContext* ctx,
                                                            const v1::DeleteSessionRequest* request,
                                                            v1::DeleteSessionResponse*) {
  return unary(ctx, context_, "DeleteSession", [&](RpcCall& call) {
    const std::string tenant = caller_tenant(context_.authenticator, *ctx);
    require_id(request->session_id(), "session_id");
    call.set_session(request->session_id());
    if (!context_.sessions->remove(request->session_id(), tenant)) {
      throw ServiceError(Fault::kUnknownSession,
                         "session '" + request->session_id() + "' not found");
    }
  });
}

grpc::ServerUnaryReactor* LongContextService::ForkSession(grpc::CallbackServerContext* ctx,
                                                          const v1::ForkSessionRequest* request,
                                                          v1::Session* response) {
  auto* reactor = ctx->DefaultReactor();
  auto call = std::make_shared<RpcCall>(context_, "ForkSession");
  try {
    const std::string tenant = caller_tenant(context_.authenticator, *ctx);
    require_id(request->session_id(), "session_id");
    call->set_session(request->session_id());
    check_message_bytes(request->ByteSizeLong(), context_.max_message_bytes,
                        "the ForkSession request");
    auto source = context_.sessions->get(request->session_id(), tenant);
    Labels labels(request->labels().begin(), request->labels().end());
    // The copy is taken on the source's queue, after the chunks sent before it.
    submit_or_refuse(
        context_, source->queue, [this, source, labels, tenant, reactor, response, call] {
          grpc::Status status;
          try {
            context_.sessions->ensure_resident(*source);  // reloads an evicted source
            auto copy = context_.sessions->fork(*source, labels, tenant);
            fill_session_proto(*copy, *context_.sessions, context_.model_name, response);
          } catch (...) {
            status = call->status_of_current_exception();
          }
          call->done(status);
          reactor->Finish(status);
        },
        "the engine queue is full; retry later");
  } catch (...) {
    const grpc::Status status = call->status_of_current_exception();
    call->done(status);
    reactor->Finish(status);
  }
  return reactor;
}

grpc::ServerReadReactor<v1::IngestRequest>* LongContextService::Ingest(
    grpc::CallbackServerContext* ctx, v1::IngestResponse* response) {
  return new IngestReactor(context_, *ctx, response);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* LongContextService::Ask(
    grpc::CallbackServerContext* ctx, const v1::AskRequest* request) {
  std::vector<PromptPiece> prompt;
  if (!request->question().empty()) prompt = context_.prompt.question_pieces(request->question());
  auto* reactor = new GenerateReactor(context_, *ctx, "Ask", request->session_id(),
                                      std::move(prompt), request->params());
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* LongContextService::Summarize(
    grpc::CallbackServerContext* ctx, const v1::SummarizeRequest* request) {
  return new GenerateReactor(context_, *ctx, "Summarize", request->session_id(),
                             context_.prompt.summary_pieces(), request->params());
}

grpc::ServerWriteReactor<v1::SnapshotChunk>* LongContextService::ExportSession(
    grpc::CallbackServerContext* ctx, const v1::ExportSessionRequest* request) {
  return new ExportReactor(context_, *ctx, request->session_id());
}

grpc::ServerReadReactor<v1::SnapshotChunk>* LongContextService::ImportSession(
    grpc::CallbackServerContext* ctx, v1::Session* response) {
  return new ImportReactor(context_, *ctx, response);
}

}  // namespace infini::server
