#include "server/housekeeping.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <thread>

namespace infini::server {

namespace {

// Written by the signal handler, read by the main thread; nothing else.
volatile std::sig_atomic_t g_stop_signal = 0;

void on_signal(int signal) { g_stop_signal = signal; }

// SIGHUP: read the token file again (set by the handler, cleared here).
volatile std::sig_atomic_t g_reload_tokens = 0;

void on_reload_signal(int) { g_reload_tokens = 1; }

using SteadyClock = std::chrono::steady_clock;

// A failed reload logs the outcome and keeps the tokens in force.
void reload_tokens(TokenStore& tokens, SteadyClock::time_point& last_check) {
  if (g_reload_tokens != 0) {
    g_reload_tokens = 0;
    spdlog::get("server")->info("SIGHUP: reloading the token file");
    tokens.reload();
    last_check = SteadyClock::now();
  } else if (SteadyClock::now() - last_check > std::chrono::seconds(1)) {
    last_check = SteadyClock::now();
    tokens.reload_if_changed();
  }
}

void expire_idle_sessions(const ServerConfig& config, ServerParts& parts) {
  const auto idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  for (const auto& id : parts.sessions.expire_idle(idle_timeout)) {
    spdlog::get("session")->info("session {} expired after {} s idle", id,
                                 config.idle_timeout_seconds);
  }
}

}  // namespace

int run_until_stop_signal(const ServerConfig& config, ServerParts& parts) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (parts.tokens) std::signal(SIGHUP, on_reload_signal);
  auto last_token_check = SteadyClock::now();
  auto last_expiry = SteadyClock::now();
  while (g_stop_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (parts.tokens) reload_tokens(*parts.tokens, last_token_check);
    if (config.idle_timeout_seconds > 0 &&
        SteadyClock::now() - last_expiry > std::chrono::seconds(1)) {
      last_expiry = SteadyClock::now();
      expire_idle_sessions(config, parts);
    }
  }
  return static_cast<int>(g_stop_signal);
}

}  // namespace infini::server
