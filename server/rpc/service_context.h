// What every RPC handler needs, built once by ServerParts (server/server_parts.h)
// and shared read-only.
#pragma once

#include <memory>
#include <string>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "server/admission/chunk_rate_limiter.h"
#include "server/admission/stream_slots.h"
#include "server/metrics/metrics.h"
#include "server/rpc/request_validation.h"
#include "server/scheduling/scheduler.h"
#include "server/security/authenticator.h"
#include "server/sessions/model_identity.h"
#include "server/sessions/session_manager.h"

namespace infini::server {

struct ServiceContext {
  std::string model_name;
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  PromptTemplate prompt;
  GenerationLimits generation;
  SessionManager* sessions = nullptr;
  Scheduler* scheduler = nullptr;
  ServerMetrics* metrics = nullptr;
  // Null when --snapshot-dir is not set: sessions live in memory only.
  // What snapshots are checked against (ExportSession, ImportSession).
  const LazyModelIdentity* model_identity = nullptr;
  // Null when --auth-tokens is not set: every caller is tenant "".
  const Authenticator* authenticator = nullptr;
  // Every streaming call holds one of these slots (--max-streams).
  StreamSlots* streams = nullptr;
  // Ingest chunks per session per second (--max-chunks-per-second).
  ChunkRateLimiter* chunk_rate = nullptr;
  // Largest request message (--max-message-bytes); 0: gRPC's own check only.
  int64_t max_message_bytes = 0;
};

}  // namespace infini::server
