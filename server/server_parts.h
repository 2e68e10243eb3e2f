// Everything infini-server runs, built from its configuration in the order
// the parts depend on one another and destroyed in reverse: the TLS files
// and the token file first (a bad one stops the server before the slow model
// load, naming the flag and the file), then the model, the sessions and
// their snapshots, the scheduler, and what the service's calls share. The
// listeners (listeners.h) serve these parts and stop before they go.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/model.h"
#include "engine/prompt_template.h"
#include "engine/tokenizer.h"
#include "server/admission/chunk_rate_limiter.h"
#include "server/admission/stream_slots.h"
#include "server/config.h"
#include "server/metrics/metrics.h"
#include "server/rpc/long_context_service.h"
#include "server/rpc/reflection_service.h"
#include "server/rpc/service_context.h"
#include "server/scheduling/scheduler.h"
#include "server/security/authenticator.h"
#include "server/security/tls_credentials.h"
#include "server/security/token_store.h"
#include "server/sessions/model_identity.h"
#include "server/sessions/session_manager.h"
#include "server/sessions/session_persistence.h"

namespace infini::server {

struct ServerParts {
  // Builds every part, restores the snapshots in --snapshot-dir and connects
  // the metrics to what they read at scrape time. Throws what stops the
  // server from starting (EngineError, std::runtime_error, naming the cause).
  explicit ServerParts(const ServerConfig& config);
  ServerParts(const ServerParts&) = delete;
  ServerParts& operator=(const ServerParts&) = delete;

  // Writes every session's snapshot at a clean stop (with --snapshot-dir),
  // once the listeners have stopped; logs how many were written.
  void write_snapshots();

  // Checked before anything slow.
  const GrpcServerCredentials grpc_credentials;
  const std::optional<TlsIdentity> metrics_tls;  // set: /metrics over https
  const std::unique_ptr<TokenStore> tokens;      // null: no --auth-tokens

  const std::shared_ptr<const Model> model;
  const std::shared_ptr<const Tokenizer> tokenizer;
  const int cores;    // usable by this process (affinity, cgroup quota)
  const int workers;  // engine workers sharing them
  ServerMetrics metrics;
  const PromptTemplate prompt;
  SessionManager sessions;
  // Hashed at start when snapshots are on, else on the first Export/Import.
  const LazyModelIdentity identity;
  // The restore's log line counts from here, the model hash included.
  const std::chrono::steady_clock::time_point restore_started = std::chrono::steady_clock::now();
  // Before the scheduler, so that it outlives every task that writes a
  // snapshot. Null when --snapshot-dir is not set.
  const std::unique_ptr<SessionPersistence> persistence;
  Scheduler scheduler;
  // Before the gRPC server, so that they outlive every call holding a slot.
  StreamSlots streams;
  ChunkRateLimiter chunk_rate;
  const std::unique_ptr<Authenticator> authenticator;  // null: no --auth-tokens
  const ServiceContext context;
  LongContextService service;
  ReflectionService reflection;

 private:
  // Checks that one session's state fits --max-state-bytes first (no
  // session could exist otherwise), then opens --snapshot-dir, if set.
  std::unique_ptr<SessionPersistence> open_snapshot_dir(const ServerConfig& config);
  void restore_snapshots(const ServerConfig& config);
  void connect_metrics(const ServerConfig& config);
  ServiceContext make_context(const ServerConfig& config);
};

// The start-up log: auth, the model and its state sizes, the prompt, the
// workers and every limit.
void log_startup(const ServerConfig& config, const ServerParts& parts);

}  // namespace infini::server
