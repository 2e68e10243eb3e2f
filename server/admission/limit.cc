#include "server/admission/limit.h"

namespace infini::server {

const char* limit_name(Limit limit) {
  switch (limit) {
    case Limit::kStreams: return "streams";
    case Limit::kChunkRate: return "chunk_rate";
    case Limit::kSessions: return "sessions";
    case Limit::kTenantSessions: return "tenant_sessions";
    case Limit::kStateBytes: return "state_bytes";
    case Limit::kQueue: return "queue";
    case Limit::kMaxTokens: return "max_tokens";
    case Limit::kMessageBytes: return "message_bytes";
  }
  return "unknown";
}

LimitExceeded::LimitExceeded(Limit limit, const std::string& message)
    : ServiceError(limit == Limit::kMaxTokens ? Fault::kBadRequest : Fault::kLimit,
                   message),
      limit_(limit) {}

void check_message_bytes(size_t bytes, int64_t limit, const char* what) {
  if (limit <= 0 || static_cast<int64_t>(bytes) <= limit) return;
  throw LimitExceeded(Limit::kMessageBytes,
                      std::string(what) + " of " + std::to_string(bytes) +
                          " bytes is larger than the server's limit of " + std::to_string(limit) +
                          " (--max-message-bytes); split it into smaller chunks");
}

}  // namespace infini::server
