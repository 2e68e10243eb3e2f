#include "server/rpc/generate_reactor.h"

#include "server/rpc/request_validation.h"
#include "server/status.h"

namespace infini::server {

namespace {

v1::FinishReason to_proto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStop: return v1::FINISH_REASON_STOP;
    case FinishReason::kEndOfText: return v1::FINISH_REASON_END_OF_TEXT;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

}  // namespace

GenerateReactor::GenerateReactor(const ServiceContext& context,
                                 const grpc::CallbackServerContext& ctx, const char* method,
                                 const std::string& session_id, std::vector<PromptPiece> prompt,
                                 const v1::GenerationParams& params)
    : CallReactor(context, method), prompt_(std::move(prompt)) {
  try {
    admit(ctx);
    size_t prompt_bytes = 0;
    for (const auto& piece : prompt_) prompt_bytes += piece.text.size();
    check_message_bytes(prompt_bytes, context_.max_message_bytes, "the question");
    require_id(session_id, "session_id");
    call_.set_session(session_id);
    // Only Ask can bring an empty prompt (the summary template never is).
    if (prompt_.empty()) {
      throw ServiceError(Fault::kBadRequest, "question is empty");
    }
    request_ = generation_request(params, context_.generation, context_.prompt.stop);
    request_.stop_ids = context_.prompt.stop_ids;
    session_ = context_.sessions->get(session_id, tenant_);
    submit(session_->queue, [this] { generate(); });
  } catch (...) {
    finish(call_.status_of_current_exception());
  }
}

void GenerateReactor::generate() {
  try {
    if (cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before generation started"));
      return;
    }
    Session& s = *session_;
    context_.sessions->ensure_resident(s);  // an evicted session comes back first
    // The question runs on a fork: the session itself is not touched.
    DocumentReader::Question question =
        s.document.question(*context_.model, context_.prompt, prompt_);
    request_.prompt = std::move(question.prompt_ids);
    s.touch();
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived_).count();
    const GenerationResult result =
        infini::generate(*context_.model, *context_.tokenizer, question.state, request_,
                         [this](std::string_view text) {
                           if (cancelled_) return false;
                           v1::GenerateResponse delta;
                           delta.set_text(std::string(text));
                           push(std::move(delta), false);
                           return true;
                         });
    call_.add_tokens(result.generated_tokens);
    const double ttft = waited + result.first_token_seconds;
    context_.metrics->record_generation(ttft, result.generated_tokens,
                                        result.total_seconds - result.first_token_seconds);
    if (result.finish == FinishReason::kCancelled || cancelled_) {
      finish(grpc::Status(grpc::StatusCode::CANCELLED, "generation cancelled by the client"));
      return;
    }
    v1::GenerateResponse last;
    last.set_finish_reason(to_proto(result.finish));
    v1::Usage* usage = last.mutable_usage();
    usage->set_prompt_tokens(result.prompt_tokens);
    usage->set_generated_tokens(result.generated_tokens);
    usage->set_time_to_first_token_seconds(ttft);
    usage->set_total_seconds(waited + result.total_seconds);
    usage->set_tokens_per_second(result.total_seconds > 0
                                     ? static_cast<double>(result.generated_tokens) / result.total_seconds
                                     : 0.0);
    push(std::move(last), true);
  } catch (...) {
    finish(call_.status_of_current_exception());
  }
}

void GenerateReactor::push(v1::GenerateResponse message, bool last) {
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.push_back(std::move(message));
  last_queued_ = last;
  if (!writing_) writing_ = start_write(&outbox_.front());  // false: finishing
}

void GenerateReactor::OnWriteDone(bool ok) {
  // A finish that came while this write was in flight (cancel or error
  // mid-answer) is sent now, and nothing more is written.
  if (!write_completed()) return;
  bool finish_now = false;
  grpc::Status status = grpc::Status::OK;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    outbox_.pop_front();
    writing_ = false;
    if (!ok) {
      // The stream is broken: the generation stops at its next token and
      // finishes the call; if it is already over, finish here.
      cancelled_ = true;
      finish_now = last_queued_;
      status = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    } else if (!outbox_.empty()) {
      writing_ = start_write(&outbox_.front());
    } else if (last_queued_) {
      finish_now = true;
    }
  }
  if (finish_now) finish(status);
}

}  // namespace infini::server
