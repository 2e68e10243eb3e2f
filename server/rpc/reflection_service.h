// gRPC server reflection (v1alpha), answered from the descriptors compiled
// into this binary, so grpcurl can `list`, `describe` and build requests.
#pragma once

#include <string>
#include <vector>

#include "proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace infini::server {

class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: fully qualified names of the services the server exposes.
  explicit ReflectionService(std::vector<std::string> services);

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // One request's answer (exposed for tests).
  grpc::reflection::v1alpha::ServerReflectionResponse answer(
      const grpc::reflection::v1alpha::ServerReflectionRequest& request) const;

 private:
  std::vector<std::string> services_;
};

}  // namespace infini::server
