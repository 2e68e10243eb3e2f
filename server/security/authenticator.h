// Who is calling: the tenant named by the call's bearer token. Every
// LongContext RPC asks this first when auth is on; the health service and
// reflection stay open (probes and discovery carry no token).
#pragma once

#include <grpcpp/server_context.h>

#include <string>
#include <string_view>

#include "server/security/token_store.h"

namespace infini::server {

class ServerMetrics;

class Authenticator {
 public:
  // `metrics` may be null (tests); failures are counted when it is not.
  Authenticator(const TokenStore& tokens, ServerMetrics* metrics)
      : tokens_(tokens), metrics_(metrics) {}

  // The caller's tenant from the metadata "authorization: Bearer <token>".
  // Throws ServiceError(UNAUTHENTICATED) when it is missing, malformed,
  // unknown or expired; the message never contains the token.
  std::string authenticate(const grpc::ServerContextBase& ctx) const;
  // The same from the metadata values themselves (none, one or several).
  std::string authenticate(const std::vector<std::string_view>& authorization) const;

 private:
  [[noreturn]] void refuse(const char* reason, const std::string& message) const;

  const TokenStore& tokens_;
  ServerMetrics* metrics_;
};

// The caller's tenant: "" when auth is off (`authenticator` null).
inline std::string caller_tenant(const Authenticator* authenticator,
                                 const grpc::ServerContextBase& ctx) {
  return authenticator == nullptr ? std::string() : authenticator->authenticate(ctx);
}

}  // namespace infini::server
