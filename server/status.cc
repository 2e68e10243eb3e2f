#include "server/status.h"

#include <exception>

namespace infini::server {

grpc::Status to_status(const EngineError& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
    case ErrorCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, error.what()};
    case ErrorCode::kOutOfRange: return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
    case ErrorCode::kCorruptData: return {grpc::StatusCode::DATA_LOSS, error.what()};
    case ErrorCode::kUnsupported: return {grpc::StatusCode::UNIMPLEMENTED, error.what()};
    case ErrorCode::kInternal: return {grpc::StatusCode::INTERNAL, error.what()};
  }
  return {grpc::StatusCode::INTERNAL, error.what()};
}

grpc::Status current_exception_status() {
  try {
    throw;
  } catch (const ServiceError& e) {
    return {e.code(), e.what()};
  } catch (const EngineError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, "out of memory"};
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, std::string("internal error: ") + e.what()};
  } catch (...) {
    return {grpc::StatusCode::INTERNAL, "internal error"};
  }
}

const char* status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace infini::server
