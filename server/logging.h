// spdlog setup: one logger per subsystem (server, engine, session), text or
// JSON lines on stderr.
#pragma once

#include <string>

namespace infini::server {

// Throws std::invalid_argument for an unknown level or format.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace infini::server
