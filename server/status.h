// The one place where errors become gRPC statuses.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "engine/error.h"

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
// "OK", "NOT_FOUND", ... as used in metric labels and logs.
const char* status_code_name(grpc::StatusCode code);

}  // namespace infini::server
