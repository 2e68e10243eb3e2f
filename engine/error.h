// Errors the engine reports. Every failure a caller can cause (a bad file, a bad
// id, an empty document) is an EngineError carrying a code and context; the
// server maps the code to a gRPC status in one place.
#pragma once

#include <stdexcept>
#include <string>

namespace infini {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something malformed
  kNotFound,         // a file or tensor that should exist does not
  kCorruptData,      // a file exists but its bytes contradict themselves
  kOutOfRange,       // a value outside what the model supports (token id, length)
  kUnsupported,      // a valid input this build cannot handle (dtype, backend)
  kInternal,         // a bug or a failure of a library we call
};

const char* error_code_name(ErrorCode code);

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace infini
