#include "server/security/authenticator.h"

#include <cctype>

#include "server/metrics/metrics.h"
#include "server/status.h"

namespace infini::server {

namespace {

constexpr std::string_view kScheme = "bearer";

}  // namespace

void Authenticator::refuse(const char* reason, const std::string& message) const {
  if (metrics_ != nullptr) metrics_->record_auth_failure(reason);
  throw ServiceError(Fault::kUnauthenticated, message);
}

std::string Authenticator::authenticate(const grpc::ServerContextBase& ctx) const {
  std::vector<std::string_view> values;
  const auto range = ctx.client_metadata().equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return authenticate(values);
}

std::string Authenticator::authenticate(const std::vector<std::string_view>& authorization) const {
  if (authorization.empty()) {
    refuse(kAuthFailureMissing,
           "missing credentials: send the metadata 'authorization: Bearer <token>'");
  }
  if (authorization.size() > 1) {
    refuse(kAuthFailureInvalid, "malformed credentials: more than one authorization metadata");
  }
  const std::string_view value = authorization.front();
  // "Bearer" (any case), spaces, then the token; nothing after it.
  bool scheme_ok = value.size() > kScheme.size();
  for (size_t i = 0; scheme_ok && i < kScheme.size(); ++i) {
    scheme_ok = std::tolower(static_cast<unsigned char>(value[i])) == kScheme[i];
  }
  if (!scheme_ok || value[kScheme.size()] != ' ') {
    refuse(kAuthFailureInvalid, "malformed credentials: expected 'authorization: Bearer <token>'");
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.find_first_of(" \t") != std::string_view::npos) {
    refuse(kAuthFailureInvalid, "malformed credentials: expected 'authorization: Bearer <token>'");
  }
  const TokenStore::Lookup found = tokens_.lookup(token);
  switch (found.outcome) {
    case TokenStore::Outcome::kValid:
      return found.tenant;
    case TokenStore::Outcome::kExpired:
      refuse(kAuthFailureExpired, "token expired");
    case TokenStore::Outcome::kUnknown:
      break;
  }
  refuse(kAuthFailureInvalid, "invalid bearer token");
}

}  // namespace infini::server
