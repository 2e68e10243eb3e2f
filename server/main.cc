// infini-server: config -> parts -> listeners -> housekeeping until a stop
// signal -> an orderly stop (gRPC drains, snapshots are written).
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/error.h"
#include "server/config.h"
#include "server/housekeeping.h"
#include "server/listeners.h"
#include "server/logging.h"
#include "server/server_parts.h"

namespace {

int serve(const infini::server::ServerConfig& config) {
  using namespace infini::server;
  ServerParts parts(config);  // before the listeners, which serve it
  log_startup(config, parts);
  Listeners listeners = start_listeners(config, parts);
  const int signal = run_until_stop_signal(config, parts);
  stop_grpc(listeners, signal);
  parts.write_snapshots();
  spdlog::get("server")->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A write past RLIMIT_FSIZE must fail with EFBIG (a snapshot the server
  // reports as not written), not kill the process as SIGXFSZ would.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  infini::server::ParsedConfig parsed;
  try {
    parsed =
        infini::server::parse_server_config(args, [](const char* n) { return std::getenv(n); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini-server: %s\n", e.what());
    return 2;
  }
  if (parsed.help) {
    std::fputs(infini::server::server_usage().c_str(), stdout);
    return 0;
  }
  try {
    infini::server::setup_logging(parsed.config.log_level, parsed.config.log_format);
    return serve(parsed.config);
  } catch (const infini::EngineError& e) {
    spdlog::get("server")->critical("cannot start: {} ({})", e.what(),
                                    infini::error_code_name(e.code()));
    return 1;
  } catch (const std::exception& e) {
    if (auto log = spdlog::get("server"))
      log->critical("cannot start: {}", e.what());
    else
      std::fprintf(stderr, "infini-server: %s\n", e.what());
    return 1;
  }
}
