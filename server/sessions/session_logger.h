// The "session" logger (logging.cc registers it), or the default one where
// nothing did (tests that use sessions without a server).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace infini::server {

inline std::shared_ptr<spdlog::logger> session_logger() {
  auto logger = spdlog::get("session");
  return logger ? logger : spdlog::default_logger();
}

}  // namespace infini::server
