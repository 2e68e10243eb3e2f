// infini-server's command line, from the real binary: bad flags and
// environment values exit 2 saying why, a missing model or a taken port
// exits 1 naming it, and --help lists every flag the parser reads.
#include <cctype>
#include <regex>
#include <set>

#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

TEST(ServerCommandLine, BadFlagsExitWith2AndSayWhy) {
  const std::string server = server_binary();
  const std::string& model = test_model_dir();
  struct Case {
    std::vector<std::string> argv;
    std::vector<std::string> mentions;
  };
  const std::vector<Case> cases = {
      {{server, "--model", model, "--threads", "abc"}, {"--threads", "abc"}},
      {{server, "--model", model, "--no-such-flag", "1"}, {"--no-such-flag"}},
      {{server, "--model", model, "--queue-capacity", "0"}, {"--queue-capacity", "0"}},
      {{server, "--model", model, "--dtype", "f64"}, {"--dtype", "f64"}},
      {{server, "--model", model, "--log-level", "loud"}, {"--log-level", "loud"}},
      {{server, "--model", model, "--listen"}, {"--listen", "value"}},
      {{server, "--model", model, "stray"}, {"stray"}},
      {{"/usr/bin/env", "INFINI_THREADS=lots", server, "--model", model},
       {"INFINI_THREADS", "lots"}},
      {{server, "--model", model, "--default-max-tokens", "100", "--max-tokens-limit", "50"},
       {"--default-max-tokens", "--max-tokens-limit"}},
  };
  for (const auto& c : cases) {
    std::string line;
    for (size_t i = 1; i < c.argv.size(); ++i) line += c.argv[i] + " ";
    SCOPED_TRACE(line);
    const CommandResult r = run_command(c.argv, 20s);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    for (const auto& m : c.mentions) EXPECT_NE(r.output.find(m), std::string::npos) << r.output;
    EXPECT_LT(r.output.size(), 2000u) << "a bad flag should give a short message";
  }
}

// Without --model the server looks for the bundled models/demo in its
// working directory; run elsewhere it exits 1 and says how to point it.
TEST(ServerCommandLine, DefaultModelMissingFromTheWorkingDirectoryExits1SayingHow) {
  TempDir dir;
  const std::string cmd = "cd '" + dir.path().string() + "' && exec '" + server_binary() +
                          "' --listen 127.0.0.1:0 --metrics-listen ''";
  const CommandResult r = run_command({"/bin/sh", "-c", cmd}, 20s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("'models/demo' does not exist"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
}

TEST(ServerCommandLine, HelpListsEveryFlag) {
  const CommandResult r = run_command({server_binary(), "--help"}, 20s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::set<std::string> flags = {"listen",
                                 "metrics-listen",
                                 "model",
                                 "backend",
                                 "dtype",
                                 "gate",
                                 "threads",
                                 "queue-capacity",
                                 "max-sessions",
                                 "max-state-bytes",
                                 "idle-timeout",
                                 "max-message-bytes",
                                 "default-max-tokens",
                                 "max-tokens-limit",
                                 "log-level",
                                 "log-format"};
  // And whatever flag the parser reads (server/config.cc: get("flag", ...)).
  const std::string source = read_file(std::string(INFINI_SOURCE_DIR) + "/server/config.cc");
  const std::regex get_call(R"(get\("([a-z-]+)\")");
  size_t parsed = 0;
  for (std::sregex_iterator it(source.begin(), source.end(), get_call), end; it != end; ++it) {
    flags.insert((*it)[1]);
    ++parsed;
  }
  EXPECT_GE(parsed, 16u) << "server/config.cc no longer reads flags with get(\"...\")";
  for (const auto& flag : flags) {
    EXPECT_NE(r.output.find("--" + flag + " "), std::string::npos) << "--help lacks --" << flag;
    std::string env = "INFINI_";
    for (char ch : flag) env += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
    EXPECT_NE(r.output.find(env), std::string::npos) << "--help lacks " << env;
  }
  EXPECT_NE(r.output.find("--help"), std::string::npos);
}

TEST(ServerCommandLine, MissingModelDirExits1NamingThePath) {
  TempDir dir;
  const std::string missing = (dir.path() / "no-such-model").string();
  const CommandResult r = run_command({server_binary(), "--model", missing, "--listen",
                                       "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"},
                                      20s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(missing), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("listening on"), std::string::npos) << r.output;
}

// Two servers cannot share a port: the second must fail, not steal half the
// traffic (gRPC sets SO_REUSEPORT by default).
TEST(ServerCommandLine, PortInUseExits1) {
  auto first = ServerProcess::start();
  const CommandResult grpc_taken =
      run_command({server_binary(), "--model", test_model_dir(), "--listen", first->target(),
                   "--metrics-listen", "127.0.0.1:0"},
                  5s);
  EXPECT_EQ(grpc_taken.exit_code, 1) << grpc_taken.output;
  EXPECT_NE(grpc_taken.output.find(std::to_string(first->grpc_port())), std::string::npos)
      << grpc_taken.output;
  const CommandResult metrics_taken =
      run_command({server_binary(), "--model", test_model_dir(), "--listen", "127.0.0.1:0",
                   "--metrics-listen", "127.0.0.1:" + std::to_string(first->metrics_port())},
                  5s);
  EXPECT_EQ(metrics_taken.exit_code, 1) << metrics_taken.output;
  EXPECT_NE(metrics_taken.output.find(std::to_string(first->metrics_port())), std::string::npos)
      << metrics_taken.output;
}

}  // namespace
}  // namespace infini::e2e
