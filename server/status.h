// The one place where errors become gRPC statuses.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "engine/error.h"
#include "proto/status_code_name.h"

namespace infini::server {

// An error raised by the service layer (bad request, unknown session,
// limits), carrying the gRPC code it maps to.
class ServiceError : public std::runtime_error {
 public:
  ServiceError(grpc::StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  grpc::StatusCode code() const { return code_; }

 private:
  grpc::StatusCode code_;
};

grpc::Status to_status(const EngineError& error);
// Maps whatever is currently being handled (call inside a catch block).
grpc::Status current_exception_status();
// status_code_name(code), "OK", "NOT_FOUND", ..., in metric labels and logs,
// is the client's too: proto/status_code_name.h.

}  // namespace infini::server
