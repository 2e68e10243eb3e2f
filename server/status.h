// The one place where errors become gRPC statuses.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "engine/error.h"
#include "proto/status_code_name.h"
#include "server/service_error.h"

namespace infini::server {

grpc::StatusCode status_code(Fault fault);
grpc::Status to_status(const ServiceError& error);
grpc::Status to_status(const EngineError& error);
// Maps whatever is currently being handled (call inside a catch block).
grpc::Status current_exception_status();
// status_code_name(code), "OK", "NOT_FOUND", ..., in metric labels and logs,
// is the client's too: proto/status_code_name.h.

}  // namespace infini::server
