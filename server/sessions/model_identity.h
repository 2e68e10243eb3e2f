// The model's identity for snapshots (model_identity(): a hash of its
// config and weights), computed once, on first use: a server that never
// writes, exports or imports a snapshot never reads its weights twice.
#pragma once

#include <mutex>
#include <string>

namespace infini::server {

class LazyModelIdentity {
 public:
  explicit LazyModelIdentity(std::string model_dir) : model_dir_(std::move(model_dir)) {}

  // Thread-safe; throws std::runtime_error naming the file it cannot read
  // (and tries again on the next call).
  const std::string& get() const;

 private:
  std::string model_dir_;
  mutable std::once_flag once_;
  mutable std::string identity_;
};

}  // namespace infini::server
