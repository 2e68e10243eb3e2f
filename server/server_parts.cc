#include "server/server_parts.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/human_bytes.h"
#include "proto/grpc/health/v1/health.pb.h"
#include "server/scheduling/cpu_budget.h"
#include "server/sessions/file_session_store.h"

namespace infini::server {

namespace {

std::optional<TlsIdentity> load_metrics_tls(const ServerConfig& config) {
  if (config.metrics_tls_cert_file.empty()) return std::nullopt;
  return load_tls_identity({"--metrics-tls-cert", config.metrics_tls_cert_file},
                           {"--metrics-tls-key", config.metrics_tls_key_file});
}

// A bad line stops the server before the model load, naming file:line
// (never the token).
std::unique_ptr<TokenStore> load_tokens(const ServerConfig& config) {
  if (config.auth_tokens_file.empty()) return nullptr;
  return std::make_unique<TokenStore>(config.auth_tokens_file);
}

std::shared_ptr<const Model> load_model(const ServerConfig& config) {
  if (!std::filesystem::is_directory(config.model_dir)) {
    // Most often the default (models/demo, relative to the working
    // directory) from somewhere other than the repository root.
    throw std::runtime_error("model directory '" + config.model_dir +
                             "' does not exist: pass --model DIR or set INFINI_MODEL");
  }
  LoadOptions options;
  options.backend = config.backend;
  options.dtype = parse_compute_dtype(config.dtype);
  options.gate = config.gate;
  options.segment_size = config.segment_size;
  return Model::load(config.model_dir, options);
}

std::shared_ptr<const Tokenizer> load_tokenizer(const ServerConfig& config, const Model& model) {
  auto tokenizer = Tokenizer::load_from_model_dir(config.model_dir);
  if (tokenizer->vocab_size() > model.config().vocab_size) {
    throw EngineError(ErrorCode::kInvalidArgument, "tokenizer has " +
                                                       std::to_string(tokenizer->vocab_size()) +
                                                       " pieces but the model's vocabulary is " +
                                                       std::to_string(model.config().vocab_size));
  }
  return tokenizer;
}

// The model directory's name ("demo" for models/demo/).
std::string model_name(const std::string& model_dir) {
  std::string name = std::filesystem::path(model_dir).filename().string();
  if (name.empty()) name = std::filesystem::path(model_dir).parent_path().filename().string();
  return name;
}

std::vector<std::string> reflected_services() {
  // Touching a health message links its descriptor into the pool reflection reads.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  return {"infini.v1.LongContext", "grpc.health.v1.Health",
          "grpc.reflection.v1alpha.ServerReflection"};
}

}  // namespace

ServerParts::ServerParts(const ServerConfig& config)
    : grpc_credentials(
          make_grpc_server_credentials({{"--tls-cert", config.tls_cert_file},
                                        {"--tls-key", config.tls_key_file},
                                        {"--tls-client-ca", config.tls_client_ca_file}})),
      metrics_tls(load_metrics_tls(config)),
      tokens(load_tokens(config)),
      model(load_model(config)),
      tokenizer(load_tokenizer(config, *model)),
      cores(usable_cores()),
      workers(config.threads > 0 ? config.threads : cores),
      prompt(PromptTemplate::load(config.model_dir, tokenizer.get(), config.system_prompt)),
      sessions(model, tokenizer,
               {config.max_sessions, config.max_state_bytes, config.max_sessions_per_tenant},
               prompt.document_prefix_pieces()),
      identity(config.model_dir),
      persistence(open_snapshot_dir(config)),
      scheduler(workers, cores, config.queue_capacity),
      streams(config.max_streams),
      chunk_rate(config.max_chunks_per_second),
      authenticator(tokens ? std::make_unique<Authenticator>(*tokens, &metrics) : nullptr),
      context(make_context(config)),
      service(context),
      reflection(reflected_services()) {
  restore_snapshots(config);
  connect_metrics(config);
}

std::unique_ptr<SessionPersistence> ServerParts::open_snapshot_dir(const ServerConfig& config) {
  if (sessions.state_bytes_per_session() > config.max_state_bytes) {
    throw std::runtime_error("--max-state-bytes " + std::to_string(config.max_state_bytes) +
                             " is smaller than one session's state for this model (" +
                             std::to_string(sessions.state_bytes_per_session()) +
                             " bytes): no session could exist");
  }
  if (config.snapshot_dir.empty()) return nullptr;
  return std::make_unique<SessionPersistence>(
      std::make_unique<FileSessionStore>(config.snapshot_dir), identity.get());
}

void ServerParts::restore_snapshots(const ServerConfig& config) {
  if (!persistence) return;
  auto log = spdlog::get("server");
  // Before restore_all, which registers sessions past --max-state-bytes as
  // evicted: their state stays on disk until a call needs it.
  sessions.enable_snapshots(persistence.get(), &scheduler, &metrics);
  const auto report = sessions.restore_all();
  for (const auto& skipped : report.skipped) {
    log->warn("snapshot {} not restored (left in place): {}", skipped.location,
              skipped.reason);
  }
  log->info(
      "snapshots in {}: {} sessions restored, {} skipped, in {:.2f} s", config.snapshot_dir,
      report.restored, report.skipped.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_started).count());
  if (report.evicted > 0) {
    log->info(
        "{} of the restored sessions stay evicted to disk (past --max-state-bytes); "
        "each is reloaded on first use",
        report.evicted);
  }
}

void ServerParts::connect_metrics(const ServerConfig& config) {
  metrics.set_limits(
      {config.queue_capacity, config.max_sessions, config.max_state_bytes, config.max_streams});
  metrics.set_session_totals_source([this] {
    metrics.set_queue_depth(scheduler.queued());  // refreshed at every scrape
    return ServerMetrics::SessionTotals{sessions.count(), sessions.total_state_bytes(),
                                        sessions.total_kv_equivalent_bytes(),
                                        sessions.evicted_count()};
  });
  metrics.set_open_streams_source([this] { return streams.open(); });
}

ServiceContext ServerParts::make_context(const ServerConfig& config) {
  ServiceContext c;
  c.model_name = model_name(config.model_dir);
  c.model = model;
  c.tokenizer = tokenizer;
  c.prompt = prompt;
  c.generation = {config.default_max_tokens, config.max_tokens};
  c.sessions = &sessions;
  c.scheduler = &scheduler;
  c.metrics = &metrics;
  c.model_identity = &identity;
  c.authenticator = authenticator.get();
  c.streams = &streams;
  c.chunk_rate = &chunk_rate;
  c.max_message_bytes = config.max_message_bytes;
  return c;
}

void ServerParts::write_snapshots() {
  if (!persistence) return;
  const int written = sessions.persist_all(std::chrono::seconds(30));
  spdlog::get("server")->info("{} of {} session snapshots written to {}", written, sessions.count(),
                              persistence->store().location());
}

void log_startup(const ServerConfig& config, const ServerParts& parts) {
  auto log = spdlog::get("server");
  if (parts.tokens) {
    log->info(
        "auth: bearer tokens required on infini.v1.LongContext ({} tokens from {}, "
        "reloaded on SIGHUP or when the file changes); health and reflection stay open",
        parts.tokens->size(), parts.tokens->path().string());
  } else {
    log->info(
        "auth: off (no --auth-tokens): every caller is the anonymous tenant and may "
        "use its sessions");
  }
  const ModelConfig& mc = parts.model->config();
  const int64_t state_bytes = parts.sessions.state_bytes_per_session();
  log->info(
      "model {} ({}): {} layers, hidden {}, {}/{} heads of {}, segment {}, memory {}, vocab {}",
      parts.context.model_name, config.model_dir, mc.num_layers, mc.hidden_size, mc.num_heads,
      mc.num_kv_heads, mc.head_dim, mc.segment_size,
      parts.model->memory_enabled() ? memory_update_name(mc.memory_update)
                                    : "off (no memory_gate tensors: each segment alone)",
      mc.vocab_size);
  log->info("backend {}; weights {}; state per session {} (memory {} + window {})",
            parts.model->backend().name(), human_bytes(parts.model->weight_bytes()),
            human_bytes(state_bytes), human_bytes(mc.memory_bytes()),
            human_bytes(state_bytes - mc.memory_bytes()));
  log->info("prompt: {}; {} stop token ids", parts.prompt.origin, parts.prompt.stop_ids.size());
  log->info("{} engine workers sharing {} cores, queue {}, at most {} sessions / {} of state",
            parts.workers, parts.cores, config.queue_capacity, config.max_sessions,
            human_bytes(config.max_state_bytes));
  log->info(
      "at most {} streams open, {} Ingest chunks per session per second, {} sessions per "
      "tenant, {} bytes per message, {} tokens per answer",
      config.max_streams,
      config.max_chunks_per_second > 0 ? std::to_string(config.max_chunks_per_second)
                                       : std::string("unlimited"),
      config.max_sessions_per_tenant > 0 ? std::to_string(config.max_sessions_per_tenant)
                                         : std::string("unlimited"),
      config.max_message_bytes, config.max_tokens);
}

}  // namespace infini::server
