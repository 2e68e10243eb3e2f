// Errors of the service in its own terms, without gRPC: sessions, admission
// and security raise them; status.cc, the one place where errors become
// gRPC statuses, maps each fault to a code. So the session registry and a
// session store can be used (and tested) without the RPC layer.
#pragma once

#include <stdexcept>
#include <string>

namespace infini::server {

enum class Fault {
  kBadRequest,       // the caller sent something malformed (INVALID_ARGUMENT)
  kUnknownSession,   // no such session, or another tenant's (NOT_FOUND)
  kSessionExists,    // an id already held (ALREADY_EXISTS)
  kLimit,            // a limit or a budget reached; retry later (RESOURCE_EXHAUSTED)
  kWrongServer,      // sound, but for another model or a newer server (FAILED_PRECONDITION)
  kUnauthenticated,  // no valid credentials (UNAUTHENTICATED)
  kStateLost,        // a session's state could not be kept or brought back (INTERNAL)
};

class ServiceError : public std::runtime_error {
 public:
  ServiceError(Fault fault, const std::string& message)
      : std::runtime_error(message), fault_(fault) {}
  Fault fault() const { return fault_; }

 private:
  Fault fault_;
};

}  // namespace infini::server
