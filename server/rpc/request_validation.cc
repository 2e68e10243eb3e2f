#include "server/rpc/request_validation.h"

#include "server/admission/limit.h"
#include "server/sessions/session_id.h"
#include "engine/error.h"
#include "server/service_error.h"

namespace infini::server {

void require_id(const std::string& id, const char* field) {
  if (id.empty()) {
    throw ServiceError(Fault::kBadRequest, std::string(field) + " is empty");
  }
  if (!is_valid_session_id(id)) {
    throw ServiceError(Fault::kBadRequest,
                       std::string(field) + " is not 1..128 characters of [A-Za-z0-9_-] (got " +
                           std::to_string(id.size()) + " bytes)");
  }
}

int64_t resolve_page_size(const v1::ListSessionsRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    throw ServiceError(Fault::kBadRequest, "page_size must be between 0 and " +
                                                         std::to_string(kMaxPageSize) + ", got " +
                                                         std::to_string(request.page_size()));
  }
  return request.page_size() == 0 ? kDefaultPageSize : request.page_size();
}

IngestTarget check_ingest_message(const v1::IngestRequest& request, bool first_message,
                                  int64_t vocab_size) {
  IngestTarget target = IngestTarget::kNone;
  if (first_message) {
    if (request.has_create()) {
      target = IngestTarget::kCreate;
    } else if (request.target_case() == v1::IngestRequest::kSessionId) {
      require_id(request.session_id(), "session_id");
      target = IngestTarget::kSessionId;
    } else {
      throw ServiceError(Fault::kBadRequest,
                         "the first Ingest message must set session_id or create");
    }
  } else if (request.target_case() != v1::IngestRequest::TARGET_NOT_SET) {
    throw ServiceError(Fault::kBadRequest,
                       "session_id / create are only allowed in the first Ingest message");
  }
  if (request.has_token_ids()) {
    const auto& ids = request.token_ids().ids();
    for (int i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab_size) {
        throw ServiceError(Fault::kBadRequest, "token_ids.ids[" + std::to_string(i) +
                                                             "] = " + std::to_string(ids[i]) +
                                                             " is outside the vocabulary [0, " +
                                                             std::to_string(vocab_size) + ")");
      }
    }
  }
  return target;
}

GenerationRequest generation_request(const v1::GenerationParams& params,
                                     const GenerationLimits& limits,
                                     const std::vector<std::string>& default_stop) {
  GenerationRequest r;
  if (params.max_tokens() < 0) {
    throw ServiceError(Fault::kBadRequest, "params.max_tokens must be >= 0, got " +
                                                         std::to_string(params.max_tokens()));
  }
  if (params.max_tokens() > limits.max_tokens) {
    throw LimitExceeded(Limit::kMaxTokens,
                        "params.max_tokens " + std::to_string(params.max_tokens()) +
                            " exceeds the server's limit of " + std::to_string(limits.max_tokens) +
                            " (--max-tokens-limit)");
  }
  r.max_tokens = params.max_tokens() == 0 ? limits.default_max_tokens : params.max_tokens();
  r.sampling.temperature = params.temperature();
  r.sampling.top_k = params.top_k();
  r.sampling.top_p = params.top_p() == 0.0f ? 1.0f : params.top_p();
  r.sampling.seed = params.seed();
  try {
    r.sampling.validate();
  } catch (const EngineError& e) {
    throw ServiceError(Fault::kBadRequest, std::string("params.") + e.what());
  }
  for (int i = 0; i < params.stop_size(); ++i) {
    if (params.stop(i).empty()) {
      throw ServiceError(Fault::kBadRequest,
                         "params.stop[" + std::to_string(i) + "] is empty");
    }
  }
  if (params.stop_size() > kMaxStopStrings) {
    throw ServiceError(Fault::kBadRequest,
                       "params.stop has more than " + std::to_string(kMaxStopStrings) + " strings");
  }
  r.stop.assign(params.stop().begin(), params.stop().end());
  if (r.stop.empty()) r.stop = default_stop;
  return r;
}

}  // namespace infini::server
