// Session (server object) -> infini.v1.Session (API message).
#pragma once

#include "proto/infini/v1/long_context.pb.h"
#include "server/sessions/session_manager.h"

namespace infini::server {

void fill_session_proto(const Session& session, const SessionManager& sessions,
                        const std::string& model_name, v1::Session* out);

}  // namespace infini::server
