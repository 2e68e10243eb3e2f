#include "server/sessions/model_identity.h"

#include "server/sessions/session_snapshot.h"

namespace infini::server {

const std::string& LazyModelIdentity::get() const {
  std::call_once(once_, [this] { identity_ = model_identity(model_dir_); });
  return identity_;
}

}  // namespace infini::server
