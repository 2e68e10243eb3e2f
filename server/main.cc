// infini-server: flags, logging, model, gRPC (+ health, reflection),
// /metrics, idle expiry, and a clean stop on SIGINT / SIGTERM.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "engine/error.h"
#include "proto/grpc/health/v1/health.pb.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/metrics/metrics_http.h"
#include "server/rpc/long_context_service.h"
#include "server/rpc/reflection_service.h"
#include "server/scheduling/cpu_budget.h"
#include "server/security/tls_credentials.h"
#include "server/security/token_store.h"
#include "server/sessions/session_persistence.h"

namespace {

// Written by the signal handler, read by the main thread; nothing else.
volatile std::sig_atomic_t g_stop_signal = 0;

void on_signal(int signal) { g_stop_signal = signal; }

// SIGHUP: read the token file again (set by the handler, cleared by main).
volatile std::sig_atomic_t g_reload_tokens = 0;

void on_reload_signal(int) { g_reload_tokens = 1; }

std::string human_bytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
  return buf;
}

int serve(const infini::server::ServerConfig& config) {
  using namespace infini;
  using namespace infini::server;
  auto log = spdlog::get("server");

  // TLS files are read and checked first: a bad one stops the server before
  // the (slow) model load, naming the flag and the file.
  const GrpcServerCredentials grpc_credentials =
      make_grpc_server_credentials({{"--tls-cert", config.tls_cert_file},
                                    {"--tls-key", config.tls_key_file},
                                    {"--tls-client-ca", config.tls_client_ca_file}});
  std::optional<TlsIdentity> metrics_tls;
  if (!config.metrics_tls_cert_file.empty()) {
    metrics_tls = load_tls_identity({"--metrics-tls-cert", config.metrics_tls_cert_file},
                                    {"--metrics-tls-key", config.metrics_tls_key_file});
  }

  // The token file too: a bad line stops the server before the model load,
  // naming file:line (never the token).
  std::unique_ptr<TokenStore> tokens;
  if (!config.auth_tokens_file.empty()) {
    tokens = std::make_unique<TokenStore>(config.auth_tokens_file);
  }

  LoadOptions options;
  options.backend = config.backend;
  options.dtype = parse_compute_dtype(config.dtype);
  options.gate = config.gate;
  options.segment_size = config.segment_size;
  if (!std::filesystem::is_directory(config.model_dir)) {
    // Most often the default (models/demo, relative to the working
    // directory) from somewhere other than the repository root.
    throw std::runtime_error("model directory '" + config.model_dir +
                             "' does not exist: pass --model DIR or set INFINI_MODEL");
  }
  auto model = Model::load(config.model_dir, options);
  auto tokenizer = Tokenizer::load_from_model_dir(config.model_dir);
  const ModelConfig& mc = model->config();
  if (tokenizer->vocab_size() > mc.vocab_size) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                          " pieces but the model's vocabulary is " + std::to_string(mc.vocab_size));
  }

  const int cores = usable_cores();
  const int workers = config.threads > 0 ? config.threads : cores;

  ServerMetrics metrics;
  const PromptTemplate prompt =
      PromptTemplate::load(config.model_dir, tokenizer.get(), config.system_prompt);
  SessionManager sessions(model, tokenizer,
                          {config.max_sessions, config.max_state_bytes,
                           config.max_sessions_per_tenant},
                          prompt.document_prefix_pieces());
  if (sessions.state_bytes_per_session() > config.max_state_bytes) {
    throw std::runtime_error(
        "--max-state-bytes " + std::to_string(config.max_state_bytes) +
        " is smaller than one session's state for this model (" +
        std::to_string(sessions.state_bytes_per_session()) + " bytes): no session could exist");
  }
  // Hashed at start when snapshots are on, else on the first Export/Import.
  const LazyModelIdentity identity(config.model_dir);
  // Before the scheduler, so that it outlives every task that writes a snapshot.
  std::unique_ptr<SessionPersistence> persistence;
  const auto restore_started = std::chrono::steady_clock::now();
  if (!config.snapshot_dir.empty()) {
    persistence = std::make_unique<SessionPersistence>(config.snapshot_dir, identity.get());
  }
  Scheduler scheduler(workers, cores, config.queue_capacity);
  if (persistence) {
    const auto started = restore_started;
    // Before restore_all, which registers sessions past --max-state-bytes as
    // evicted: their state stays on disk until a call needs it.
    sessions.enable_eviction(persistence.get(), &scheduler, &metrics);
    const auto report = persistence->restore_all(sessions);
    for (const auto& skipped : report.skipped) {
      log->warn("snapshot {} not restored (left in place): {}", skipped.path.string(),
                skipped.reason);
    }
    log->info("snapshots in {}: {} sessions restored, {} skipped, in {:.2f} s",
              config.snapshot_dir, report.restored, report.skipped.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (report.evicted > 0) {
      log->info("{} of the restored sessions stay evicted to disk (past --max-state-bytes); "
                "each is reloaded on first use", report.evicted);
    }
  }
  metrics.set_limits(
      {config.queue_capacity, config.max_sessions, config.max_state_bytes, config.max_streams});
  metrics.set_session_totals_source([&sessions, &metrics, &scheduler] {
    metrics.set_queue_depth(scheduler.queued());  // refreshed at every scrape
    return ServerMetrics::SessionTotals{sessions.count(), sessions.total_state_bytes(),
                                        sessions.total_kv_equivalent_bytes(),
                                        sessions.evicted_count()};
  });

  ServiceContext context;
  context.model_name = std::filesystem::path(config.model_dir).filename().string();
  if (context.model_name.empty()) {
    context.model_name = std::filesystem::path(config.model_dir).parent_path().filename().string();
  }
  context.model = model;
  context.tokenizer = tokenizer;
  context.prompt = prompt;
  context.generation = {config.default_max_tokens, config.max_tokens};
  context.sessions = &sessions;
  context.scheduler = &scheduler;
  context.metrics = &metrics;
  context.persistence = persistence.get();
  // Before the gRPC server, so that they outlive every call holding a slot.
  StreamSlots streams(config.max_streams);
  ChunkRateLimiter chunk_rate(config.max_chunks_per_second);
  context.streams = &streams;
  context.chunk_rate = &chunk_rate;
  context.max_message_bytes = config.max_message_bytes;
  metrics.set_open_streams_source([&streams] { return streams.open(); });
  std::unique_ptr<Authenticator> authenticator;
  if (tokens) {
    authenticator = std::make_unique<Authenticator>(*tokens, &metrics);
    context.authenticator = authenticator.get();
    log->info("auth: bearer tokens required on infini.v1.LongContext ({} tokens from {}, "
              "reloaded on SIGHUP or when the file changes); health and reflection stay open",
              tokens->size(), tokens->path().string());
  } else {
    log->info("auth: off (no --auth-tokens): every caller is the anonymous tenant and may "
              "use its sessions");
  }
  context.model_identity = &identity;
  LongContextService service(context);
  // Touching a health message links its descriptor into the pool reflection reads.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  ReflectionService reflection({"infini.v1.LongContext", "grpc.health.v1.Health",
                                "grpc.reflection.v1alpha.ServerReflection"});

  log->info("model {} ({}): {} layers, hidden {}, {}/{} heads of {}, segment {}, memory {}, vocab {}",
            context.model_name, config.model_dir, mc.num_layers, mc.hidden_size, mc.num_heads,
            mc.num_kv_heads, mc.head_dim, mc.segment_size,
            model->memory_enabled() ? memory_update_name(mc.memory_update)
                                    : "off (no memory_gate tensors: each segment alone)",
            mc.vocab_size);
  log->info("backend {}; weights {}; state per session {} (memory {} + window {})",
            model->backend().name(), human_bytes(model->weight_bytes()),
            human_bytes(sessions.state_bytes_per_session()),
            human_bytes(mc.memory_bytes()),
            human_bytes(sessions.state_bytes_per_session() - mc.memory_bytes()));
  log->info("prompt: {}; {} stop token ids", prompt.origin, prompt.stop_ids.size());
  log->info("{} engine workers sharing {} cores, queue {}, at most {} sessions / {} of state",
            workers, cores, config.queue_capacity, config.max_sessions,
            human_bytes(config.max_state_bytes));
  log->info("at most {} streams open, {} Ingest chunks per session per second, {} sessions per "
            "tenant, {} bytes per message, {} tokens per answer",
            config.max_streams,
            config.max_chunks_per_second > 0 ? std::to_string(config.max_chunks_per_second)
                                             : std::string("unlimited"),
            config.max_sessions_per_tenant > 0 ? std::to_string(config.max_sessions_per_tenant)
                                               : std::string("unlimited"),
            config.max_message_bytes, config.max_tokens);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a port in use fails, never shared
  int port = 0;
  builder.AddListeningPort(config.listen_address, grpc_credentials.credentials, &port);
  // The service checks --max-message-bytes itself, so that a refusal names
  // the flag and is counted; gRPC's own cap stays above it as a backstop
  // (and leaves room for 1 MiB snapshot chunks when the limit is small).
  const int64_t transport_cap = std::min<int64_t>(
      INT32_MAX, std::max(2 * config.max_message_bytes, config.max_message_bytes + (4 << 20)));
  builder.SetMaxReceiveMessageSize(static_cast<int>(transport_cap));
  builder.SetMaxSendMessageSize(static_cast<int>(transport_cap));
  builder.RegisterService(&service);
  builder.RegisterService(&reflection);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    throw std::runtime_error("cannot listen on " + config.listen_address +
                             " (address in use or invalid)");
  }
  server->GetHealthCheckService()->SetServingStatus("infini.v1.LongContext", true);
  server->GetHealthCheckService()->SetServingStatus(true);

  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (!config.metrics_address.empty()) {
    metrics_http = std::make_unique<MetricsHttpServer>(
        config.metrics_address, [&metrics] { return metrics.render(); },
        metrics_tls ? &*metrics_tls : nullptr);
    log->info("metrics on {}://{}/metrics (port {})", metrics_tls ? "https" : "http",
              config.metrics_address, metrics_http->port());
    if (metrics_tls) {
      log->info("metrics TLS: certificate {}, {}", metrics_tls->certificate_path,
                metrics_tls->subject);
    }
  }
  log->info("gRPC transport: {}", grpc_credentials.description);
  // The port line is what scripts and tests wait for.
  log->info("listening on {} (port {})", config.listen_address, port);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (tokens) std::signal(SIGHUP, on_reload_signal);
  auto last_token_check = std::chrono::steady_clock::now();
  auto last_expiry = std::chrono::steady_clock::now();
  while (g_stop_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (tokens && g_reload_tokens != 0) {
      g_reload_tokens = 0;
      log->info("SIGHUP: reloading the token file");
      tokens->reload();  // logs the outcome; a failure keeps the tokens in force
      last_token_check = std::chrono::steady_clock::now();
    } else if (tokens &&
               std::chrono::steady_clock::now() - last_token_check > std::chrono::seconds(1)) {
      last_token_check = std::chrono::steady_clock::now();
      tokens->reload_if_changed();
    }
    if (config.idle_timeout_seconds > 0 &&
        std::chrono::steady_clock::now() - last_expiry > std::chrono::seconds(1)) {
      last_expiry = std::chrono::steady_clock::now();
      for (const auto& id : sessions.expire_idle(std::chrono::seconds(config.idle_timeout_seconds))) {
        spdlog::get("session")->info("session {} expired after {} s idle", id,
                                     config.idle_timeout_seconds);
        if (persistence) persistence->remove(id);
      }
    }
  }
  log->info("signal {}: stopping (in-flight calls get 10 s)", static_cast<int>(g_stop_signal));
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  server->Wait();
  if (persistence) {
    const int written = persistence->write_all(sessions, scheduler, std::chrono::seconds(30));
    log->info("{} of {} session snapshots written to {}", written, sessions.count(),
              persistence->dir().string());
  }
  log->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write past RLIMIT_FSIZE must fail with EFBIG (a snapshot the server
  // reports as not written), not kill the process as SIGXFSZ would.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  infini::server::ParsedConfig parsed;
  try {
    parsed = infini::server::parse_server_config(args, [](const char* n) { return std::getenv(n); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini-server: %s\n", e.what());
    return 2;
  }
  if (parsed.help) {
    std::fputs(infini::server::server_usage().c_str(), stdout);
    return 0;
  }
  try {
    infini::server::setup_logging(parsed.config.log_level, parsed.config.log_format);
    return serve(parsed.config);
  } catch (const infini::EngineError& e) {
    spdlog::get("server")->critical("cannot start: {} ({})", e.what(),
                                    infini::error_code_name(e.code()));
    return 1;
  } catch (const std::exception& e) {
    if (auto log = spdlog::get("server")) log->critical("cannot start: {}", e.what());
    else std::fprintf(stderr, "infini-server: %s\n", e.what());
    return 1;
  }
}
