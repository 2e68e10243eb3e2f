#include "server/rpc/ingest_reactor.h"

#include <chrono>
#include <span>

#include "server/rpc/request_validation.h"
#include "server/rpc/session_proto.h"
#include "server/status.h"

namespace infini::server {

IngestReactor::IngestReactor(const ServiceContext& context,
                             const grpc::CallbackServerContext& ctx, v1::IngestResponse* response)
    : CallReactor(context, "Ingest"), response_(response) {
  try {
    admit(ctx);
  } catch (...) {
    finish(call_.status_of_current_exception());
    return;
  }
  StartRead(&request_);
}

void IngestReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client closed its side (or the call was cancelled): nothing is in flight.
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "ingest cancelled by the client"));
    } else if (session_ == nullptr) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "empty Ingest stream: the first message must set session_id or create"));
    } else {
      finish_durably();
    }
    return;
  }
  try {
    accept(std::move(request_));
  } catch (...) {
    finish(call_.status_of_current_exception());
  }
}

void IngestReactor::accept(v1::IngestRequest request) {
  const IngestTarget target =
      check_ingest_message(request, first_message_, context_.model->config().vocab_size);
  check_message_bytes(request.ByteSizeLong(), context_.max_message_bytes, "Ingest message");
  if (first_message_) {
    first_message_ = false;
    if (target == IngestTarget::kCreate) {
      Labels labels(request.create().labels().begin(), request.create().labels().end());
      session_ = context_.sessions->create(labels, tenant_);
    } else {
      session_ = context_.sessions->get(request.session_id(), tenant_);
    }
    call_.set_session(session_->id);
    user_ = SessionUser(session_);
  }
  if (context_.chunk_rate != nullptr && request.chunk_case() != v1::IngestRequest::CHUNK_NOT_SET) {
    context_.chunk_rate->take(session_->id);
  }
  auto chunk = std::make_shared<v1::IngestRequest>(std::move(request));
  submit(session_->queue, [this, chunk] {
    try {
      if (cancelled_) {
        finish(grpc::Status(grpc::StatusCode::CANCELLED,
                            "ingest cancelled by the client; the chunk was not read"));
        return;
      }
      apply(*chunk);
    } catch (...) {
      finish(call_.status_of_current_exception());
      return;
    }
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "ingest cancelled by the client after " + std::to_string(chunks_) +
                              " chunks; every chunk read counted whole"));
    } else {
      StartRead(&request_);
    }
  }, "the engine queue is full; the chunk was not read, retry later");
}

void IngestReactor::apply(const v1::IngestRequest& request) {
  Session& s = *session_;
  context_.sessions->ensure_resident(s);  // an evicted session comes back first
  const auto start = std::chrono::steady_clock::now();
  // All or nothing: a rejected chunk leaves the session's document as it was.
  DocumentReader::Read read;
  int64_t bytes = 0;
  switch (request.chunk_case()) {
    case v1::IngestRequest::kText:
    case v1::IngestRequest::kTextBytes: {
      const std::string& data = request.has_text_bytes() ? request.text_bytes() : request.text();
      read = s.document.read_text(*context_.model, data, request.flush());
      bytes = static_cast<int64_t>(data.size());
      break;
    }
    case v1::IngestRequest::kTokenIds: {
      const auto& ids = request.token_ids().ids();
      read = s.document.read_ids(*context_.model, std::span<const int32_t>(ids.data(), ids.size()));
      break;
    }
    case v1::IngestRequest::CHUNK_NOT_SET:
      if (request.flush()) read = s.document.flush(*context_.model);
      break;
  }
  s.publish();
  s.touch();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++chunks_;
  bytes_ += bytes;
  tokens_ += read.tokens;
  segments_ += read.stats.segments_folded;
  seconds_ += seconds;
  call_.add_tokens(read.tokens);
  context_.metrics->record_ingest_chunk(read.tokens, seconds);
  if (read.stats.segments_folded > 0) {
    context_.metrics->record_segment_folds(read.stats.segments_folded, read.stats.fold_seconds);
  }
}

void IngestReactor::finish_durably() {
  if (!context_.sessions->durable()) {
    finish(grpc::Status::OK);
    return;
  }
  // On the session's queue, after every chunk of this call: the snapshot
  // holds all of them, and no other task changes the state meanwhile.
  const bool queued = submit_task(context_, session_->queue, [this] {
    try {
      context_.sessions->persist(session_);
    } catch (const std::exception& e) {
      finish(grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string("every chunk was read, but the session's snapshot was not "
                                      "written, so it would not survive a restart: ") +
                              e.what()));
      return;
    }
    finish(grpc::Status::OK);
  });
  if (!queued) {
    finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "every chunk was read, but the engine queue is full so the session's "
                        "snapshot was not written; the next Ingest writes it"));
  }
}

grpc::Status IngestReactor::completing(grpc::Status status) {
  if (status.ok()) {
    fill_session_proto(*session_, *context_.sessions, context_.model_name,
                       response_->mutable_session());
    response_->set_chunks(chunks_);
    response_->set_bytes(bytes_);
    response_->set_tokens(tokens_);
    response_->set_segments(segments_);
    response_->set_seconds(seconds_);
    return status;
  }
  if (session_ != nullptr && status.error_code() != grpc::StatusCode::CANCELLED) {
    // The chunks read before the error stay read: say where they are, so a
    // client whose first message created the session can find it.
    return grpc::Status(status.error_code(),
                        status.error_message() + " (session " + session_->id + " holds " +
                            std::to_string(session_->tokens.load()) + " tokens)");
  }
  return status;
}

}  // namespace infini::server
