#include "server/listeners.h"

#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace infini::server {

namespace {

std::unique_ptr<grpc::Server> start_grpc(const ServerConfig& config, ServerParts& parts,
                                         int* port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a port in use fails, never shared
  builder.AddListeningPort(config.listen_address, parts.grpc_credentials.credentials, port);
  // The service checks --max-message-bytes itself, so that a refusal names
  // the flag and is counted; gRPC's own cap stays above it as a backstop
  // (and leaves room for 1 MiB snapshot chunks when the limit is small).
  const int64_t transport_cap = std::min<int64_t>(
      INT32_MAX, std::max(2 * config.max_message_bytes, config.max_message_bytes + (4 << 20)));
  builder.SetMaxReceiveMessageSize(static_cast<int>(transport_cap));
  builder.SetMaxSendMessageSize(static_cast<int>(transport_cap));
  builder.RegisterService(&parts.service);
  builder.RegisterService(&parts.reflection);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *port == 0) {
    throw std::runtime_error("cannot listen on " + config.listen_address +
                             " (address in use or invalid)");
  }
  server->GetHealthCheckService()->SetServingStatus("infini.v1.LongContext", true);
  server->GetHealthCheckService()->SetServingStatus(true);
  return server;
}

}  // namespace

Listeners start_listeners(const ServerConfig& config, ServerParts& parts) {
  auto log = spdlog::get("server");
  Listeners listeners;
  int port = 0;
  listeners.grpc = start_grpc(config, parts, &port);
  if (!config.metrics_address.empty()) {
    const TlsIdentity* tls = parts.metrics_tls ? &*parts.metrics_tls : nullptr;
    listeners.metrics_http = std::make_unique<MetricsHttpServer>(
        config.metrics_address, [&metrics = parts.metrics] { return metrics.render(); }, tls);
    log->info("metrics on {}://{}/metrics (port {})", tls ? "https" : "http",
              config.metrics_address, listeners.metrics_http->port());
    if (tls) log->info("metrics TLS: certificate {}, {}", tls->certificate_path, tls->subject);
  }
  log->info("gRPC transport: {}", parts.grpc_credentials.description);
  // The port line is what scripts and tests wait for.
  log->info("listening on {} (port {})", config.listen_address, port);
  return listeners;
}

void stop_grpc(Listeners& listeners, int signal) {
  spdlog::get("server")->info("signal {}: stopping (in-flight calls get 10 s)", signal);
  listeners.grpc->GetHealthCheckService()->SetServingStatus(false);
  listeners.grpc->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  listeners.grpc->Wait();
}

}  // namespace infini::server
