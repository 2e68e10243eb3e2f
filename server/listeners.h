// What infini-server listens on: gRPC (LongContext, health, reflection) and,
// with --metrics-address, /metrics over HTTP(S). Started once the parts are
// built and stopped before they are destroyed.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "server/config.h"
#include "server/metrics/metrics_http.h"
#include "server/server_parts.h"

namespace infini::server {

struct Listeners {
  std::unique_ptr<grpc::Server> grpc;
  std::unique_ptr<MetricsHttpServer> metrics_http;  // null: no --metrics-address
};

// Starts both and logs where they listen; the last line, "listening on
// ADDRESS (port N)", is what scripts and tests wait for. Throws
// std::runtime_error when an address cannot be listened on.
Listeners start_listeners(const ServerConfig& config, ServerParts& parts);

// After a stop signal: health turns NOT_SERVING, gRPC stops accepting calls
// and gives in-flight ones 10 s, then returns once they have ended.
void stop_grpc(Listeners& listeners, int signal);

}  // namespace infini::server
