#include "server/config.h"

#include <gtest/gtest.h>

#include <map>

namespace infini::server {
namespace {

ParsedConfig parse(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env = {}) {
  return parse_server_config(args, [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {}) {
  try {
    parse(args, env);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ServerConfigTest, DefaultsFlagsAndEnvironment) {
  EXPECT_EQ(parse({}).config.model_dir, "models/demo") << "the bundled demo model by default";
  auto c = parse({"--model", "m"}).config;
  EXPECT_EQ(c.model_dir, "m");
  EXPECT_EQ(c.listen_address, "0.0.0.0:50051");
  EXPECT_EQ(c.metrics_address, "0.0.0.0:9464");
  EXPECT_EQ(c.log_format, "text");
  c = parse({"--threads=3", "--max-sessions", "7"}, {{"INFINI_MODEL", "env-model"},
                                                      {"INFINI_MAX_SESSIONS", "9"},
                                                      {"INFINI_LOG_FORMAT", "json"}})
          .config;
  EXPECT_EQ(c.model_dir, "env-model");
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.max_sessions, 7) << "a flag beats its environment variable";
  EXPECT_EQ(c.log_format, "json");
}

TEST(ServerConfigTest, BadValuesNameTheFlagOrVariable) {
  EXPECT_NE(error_of({"--model", ""}).find("--model"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--threads", "many"}).find("--threads"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m"}, {{"INFINI_MAX_SESSIONS", "0"}}).find("INFINI_MAX_SESSIONS"),
            std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--backend", "tpu"}).find("tpu"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--gate", "1.5"}).find("--gate"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--log-format", "xml"}).find("--log-format"),
            std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--frobnicate", "1"}).find("--frobnicate"),
            std::string::npos);
  EXPECT_NE(error_of({"--model"}).find("needs a value"), std::string::npos);
  EXPECT_NE(error_of({"--model", "m", "--default-max-tokens", "500", "--max-tokens-limit", "100"})
                .find("--default-max-tokens"),
            std::string::npos);
}

TEST(ServerConfigTest, HelpListsEveryFlagAndVariable) {
  EXPECT_TRUE(parse({"--help"}).help);
  const std::string usage = server_usage();
  for (const char* s : {"--listen", "INFINI_LISTEN", "--metrics-listen", "--model", "--backend",
                        "--threads", "--max-sessions", "--max-state-bytes", "--idle-timeout",
                        "--max-message-bytes", "--log-level", "--log-format", "--queue-capacity"}) {
    EXPECT_NE(usage.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace infini::server
