#include "server/status.h"

#include <exception>

namespace infini::server {

grpc::StatusCode status_code(Fault fault) {
  switch (fault) {
    case Fault::kBadRequest: return grpc::StatusCode::INVALID_ARGUMENT;
    case Fault::kUnknownSession: return grpc::StatusCode::NOT_FOUND;
    case Fault::kSessionExists: return grpc::StatusCode::ALREADY_EXISTS;
    case Fault::kLimit: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Fault::kWrongServer: return grpc::StatusCode::FAILED_PRECONDITION;
    case Fault::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case Fault::kStateLost: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status to_status(const ServiceError& error) {
  return {status_code(error.fault()), error.what()};
}

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
    return to_status(e);
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

}  // namespace infini::server
