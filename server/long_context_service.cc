#include "server/long_context_service.h"

#include <memory>

#include "server/generate_reactor.h"
#include "server/ingest_reactor.h"
#include "server/rpc_call.h"
#include "server/session_proto.h"
#include "server/status.h"

namespace infini::server {

namespace {

constexpr int64_t kDefaultPageSize = 100;
constexpr int64_t kMaxPageSize = 1000;

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
    status = current_exception_status();
  }
  call.done(status);
  reactor->Finish(status);
  return reactor;
}

void require_id(const std::string& id, const char* field) {
  if (id.empty()) {
    throw ServiceError(grpc::StatusCode::INVALID_ARGUMENT, std::string(field) + " is empty");
  }
}

}  // namespace

grpc::ServerUnaryReactor* LongContextService::CreateSession(grpc::CallbackServerContext* ctx,
                                                            const v1::CreateSessionRequest* request,
                                                            v1::Session* response) {
  return unary(ctx, context_, "CreateSession", [&](RpcCall& call) {
    Labels labels(request->labels().begin(), request->labels().end());
    auto session = context_.sessions->create(labels);
    call.set_session(session->id);
    fill_session_proto(*session, *context_.sessions, context_.model_name, response);
  });
}

grpc::ServerUnaryReactor* LongContextService::GetSession(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSessionRequest* request,
                                                         v1::Session* response) {
  return unary(ctx, context_, "GetSession", [&](RpcCall& call) {
    require_id(request->session_id(), "session_id");
    call.set_session(request->session_id());
    auto session = context_.sessions->get(request->session_id());
    fill_session_proto(*session, *context_.sessions, context_.model_name, response);
  });
}

grpc::ServerUnaryReactor* LongContextService::ListSessions(grpc::CallbackServerContext* ctx,
                                                           const v1::ListSessionsRequest* request,
                                                           v1::ListSessionsResponse* response) {
  return unary(ctx, context_, "ListSessions", [&](RpcCall&) {
    if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
      throw ServiceError(grpc::StatusCode::INVALID_ARGUMENT,
                         "page_size must be between 0 and " + std::to_string(kMaxPageSize) +
                             ", got " + std::to_string(request->page_size()));
    }
    const int64_t size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
    auto page = context_.sessions->list(size, request->page_token());
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
    require_id(request->session_id(), "session_id");
    call.set_session(request->session_id());
    if (!context_.sessions->remove(request->session_id())) {
      throw ServiceError(grpc::StatusCode::NOT_FOUND,
                         "session '" + request->session_id() + "' not found");
    }
    if (context_.persistence != nullptr) context_.persistence->remove(request->session_id());
  });
}

grpc::ServerUnaryReactor* LongContextService::ForkSession(grpc::CallbackServerContext* ctx,
                                                          const v1::ForkSessionRequest* request,
                                                          v1::Session* response) {
  auto* reactor = ctx->DefaultReactor();
  auto call = std::make_shared<RpcCall>(context_, "ForkSession");
  try {
    require_id(request->session_id(), "session_id");
    call->set_session(request->session_id());
    auto source = context_.sessions->get(request->session_id());
    Labels labels(request->labels().begin(), request->labels().end());
    // The copy is taken on the source's queue, after the chunks sent before it.
    const bool queued = context_.scheduler->submit(
        source->queue, [this, source, labels, reactor, response, call] {
          grpc::Status status;
          try {
            auto copy = context_.sessions->fork(*source, labels);
            fill_session_proto(*copy, *context_.sessions, context_.model_name, response);
          } catch (...) {
            status = current_exception_status();
          }
          call->done(status);
          reactor->Finish(status);
        });
    if (!queued) {
      throw ServiceError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         "the engine queue is full; retry later");
    }
  } catch (...) {
    const grpc::Status status = current_exception_status();
    call->done(status);
    reactor->Finish(status);
  }
  return reactor;
}

grpc::ServerReadReactor<v1::IngestRequest>* LongContextService::Ingest(
    grpc::CallbackServerContext*, v1::IngestResponse* response) {
  return new IngestReactor(context_, response);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* LongContextService::Ask(
    grpc::CallbackServerContext*, const v1::AskRequest* request) {
  std::string prompt;
  if (!request->question().empty()) prompt = context_.prompt.question_text(request->question());
  auto* reactor = new GenerateReactor(context_, "Ask", request->session_id(), prompt,
                                      request->params());
  return reactor;
}

grpc::ServerWriteReactor<v1::GenerateResponse>* LongContextService::Summarize(
    grpc::CallbackServerContext*, const v1::SummarizeRequest* request) {
  return new GenerateReactor(context_, "Summarize", request->session_id(), context_.prompt.summary,
                             request->params());
}

}  // namespace infini::server
