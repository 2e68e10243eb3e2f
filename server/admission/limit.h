// The limits a caller can run into. Each refusal is a LimitExceeded (a
// ServiceError with a message naming the limit and the flag that sets it),
// counted by limit in infini_limit_hits_total where the call ends (RpcCall).
#pragma once

#include <array>
#include <string>

#include "server/service_error.h"

namespace infini::server {

enum class Limit {
  kStreams,         // --max-streams: streaming calls open at once
  kChunkRate,       // --max-chunks-per-second: Ingest chunks per session per second
  kSessions,        // --max-sessions
  kTenantSessions,  // --max-sessions-per-tenant
  kStateBytes,      // --max-state-bytes, when no idle session can be evicted
  kQueue,           // --queue-capacity: engine tasks waiting
  kMaxTokens,       // --max-tokens-limit: tokens one request may generate
  kMessageBytes,    // --max-message-bytes: one gRPC message
};

inline constexpr std::array kAllLimits = {
    Limit::kStreams,    Limit::kChunkRate, Limit::kSessions,  Limit::kTenantSessions,
    Limit::kStateBytes, Limit::kQueue,     Limit::kMaxTokens, Limit::kMessageBytes};

// The metric label: "streams", "chunk_rate", ...
const char* limit_name(Limit limit);

class LimitExceeded : public ServiceError {
 public:
  // RESOURCE_EXHAUSTED, except for limits on what a request asks for
  // (max_tokens), which are INVALID_ARGUMENT: retrying will not help.
  LimitExceeded(Limit limit, const std::string& message);
  Limit limit() const { return limit_; }

 private:
  Limit limit_;
};

// Throws LimitExceeded(Limit::kMessageBytes) when `bytes` passes `limit`
// (0: no limit); `what` names the message ("Ingest message").
void check_message_bytes(size_t bytes, int64_t limit, const char* what);

}  // namespace infini::server
