// The main thread's work while the server runs: every 100 ms it checks for
// a stop signal (SIGINT, SIGTERM), reloads the token file on SIGHUP or when
// it changed (checked once a second), and expires idle sessions
// (--idle-timeout-seconds, once a second), removing their snapshots.
#pragma once

#include "server/config.h"
#include "server/server_parts.h"

namespace infini::server {

// Installs the signal handlers, then works until SIGINT or SIGTERM arrives;
// returns that signal's number.
int run_until_stop_signal(const ServerConfig& config, ServerParts& parts);

}  // namespace infini::server
