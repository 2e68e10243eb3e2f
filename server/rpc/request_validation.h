// What a request says on its own, checked before any session, queue or
// engine is involved: pure functions of the message and the server's fixed
// limits, each bad field a ServiceError(INVALID_ARGUMENT) naming it. The RPC
// handlers call them; tests/fuzz/request_validation_fuzz.cc runs them on
// arbitrary messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "proto/infini/v1/long_context.pb.h"

namespace infini::server {

struct GenerationLimits {
  int32_t default_max_tokens = 128;
  int32_t max_tokens = 4096;
};

inline constexpr int64_t kDefaultPageSize = 100;
inline constexpr int64_t kMaxPageSize = 1000;
inline constexpr int kMaxStopStrings = 16;

// Throws INVALID_ARGUMENT unless `id` could name a session: set, and 1..128
// characters of [A-Za-z0-9_-] (is_valid_session_id: the rule imported ids
// already met); `field` names it in the message. A refused id is not echoed:
// ids reach error messages and log lines, where a newline or a megabyte of
// text from a caller would forge or flood them.
void require_id(const std::string& id, const char* field);

// The page size a ListSessions request asks for (0: the default).
int64_t resolve_page_size(const v1::ListSessionsRequest& request);

// What one Ingest message names: the first must create a session or name
// one, later ones neither. Token ids must lie in [0, vocab_size).
enum class IngestTarget { kNone, kCreate, kSessionId };
IngestTarget check_ingest_message(const v1::IngestRequest& request, bool first_message,
                                  int64_t vocab_size);

// Maps the API's generation parameters onto the engine's, checking each
// field against the server's limits (ServiceError naming the field).
GenerationRequest generation_request(const v1::GenerationParams& params,
                                     const GenerationLimits& limits,
                                     const std::vector<std::string>& default_stop);

}  // namespace infini::server
