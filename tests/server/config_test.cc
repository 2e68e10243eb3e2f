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

TEST(ServerConfigTest, BackendIsCpuByDefaultOrCuda) {
  EXPECT_EQ(parse({}).config.backend, "cpu");
  EXPECT_EQ(parse({"--backend", "cpu"}).config.backend, "cpu");
  // Accepted whatever the machine: whether a GPU is there is known only when
  // the model loads (the server then exits 1 saying why; tests/e2e).
  EXPECT_EQ(parse({"--backend", "cuda"}).config.backend, "cuda");
  EXPECT_EQ(parse({}, {{"INFINI_BACKEND", "cuda"}}).config.backend, "cuda");
  EXPECT_EQ(parse({"--backend=cpu"}, {{"INFINI_BACKEND", "cuda"}}).config.backend, "cpu");
  for (const char* bad : {"tpu", "CUDA", "gpu", ""}) {
    const std::string message = error_of({"--backend", bad});
    EXPECT_NE(message.find("--backend"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("cpu or cuda"), std::string::npos) << message;
  }
  EXPECT_NE(error_of({}, {{"INFINI_BACKEND", "rocm"}}).find("INFINI_BACKEND"), std::string::npos);
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

TEST(ServerConfigTest, RequestLimitsHaveDefaultsFlagsAndBounds) {
  auto c = parse({}).config;
  EXPECT_EQ(c.max_streams, 1024);
  EXPECT_EQ(c.max_chunks_per_second, 0) << "off by default";
  EXPECT_EQ(c.max_sessions_per_tenant, 0) << "off by default";
  c = parse({"--max-streams", "8", "--max-chunks-per-second=50"},
            {{"INFINI_MAX_SESSIONS_PER_TENANT", "3"}, {"INFINI_MAX_STREAMS", "99"}})
          .config;
  EXPECT_EQ(c.max_streams, 8);
  EXPECT_EQ(c.max_chunks_per_second, 50);
  EXPECT_EQ(c.max_sessions_per_tenant, 3);
  EXPECT_NE(error_of({"--max-streams", "0"}).find("--max-streams"), std::string::npos);
  EXPECT_NE(error_of({"--max-chunks-per-second", "-1"}).find("--max-chunks-per-second"),
            std::string::npos);
  EXPECT_NE(error_of({}, {{"INFINI_MAX_SESSIONS_PER_TENANT", "x"}})
                .find("INFINI_MAX_SESSIONS_PER_TENANT"),
            std::string::npos);
  const std::string usage = server_usage();
  for (const char* s : {"--max-streams", "INFINI_MAX_STREAMS", "--max-chunks-per-second",
                        "--max-sessions-per-tenant"}) {
    EXPECT_NE(usage.find(s), std::string::npos) << s;
  }
}

TEST(ServerConfigTest, SystemPromptFromFlagOrEnvironment) {
  EXPECT_FALSE(parse({}).config.system_prompt.has_value()) << "prompt_template.json's by default";
  EXPECT_EQ(parse({"--system-prompt", "Answer briefly."}).config.system_prompt, "Answer briefly.");
  EXPECT_EQ(parse({}, {{"INFINI_SYSTEM_PROMPT", ""}}).config.system_prompt, "") << "empty: none";
  EXPECT_NE(server_usage().find("--system-prompt (INFINI_SYSTEM_PROMPT)"), std::string::npos);
}

TEST(ServerConfigTest, AuthTokensFileFromFlagOrEnvironment) {
  EXPECT_EQ(parse({}).config.auth_tokens_file, "") << "no authentication by default";
  EXPECT_EQ(parse({"--auth-tokens", "/etc/infini/tokens"}).config.auth_tokens_file,
            "/etc/infini/tokens");
  EXPECT_EQ(parse({}, {{"INFINI_AUTH_TOKENS", "env-tokens"}}).config.auth_tokens_file,
            "env-tokens");
  EXPECT_NE(error_of({"--auth-tokens", ""}).find("--auth-tokens"), std::string::npos);
  EXPECT_NE(error_of({}, {{"INFINI_AUTH_TOKENS", ""}}).find("INFINI_AUTH_TOKENS"),
            std::string::npos);
  const std::string usage = server_usage();
  EXPECT_NE(usage.find("--auth-tokens (INFINI_AUTH_TOKENS)"), std::string::npos);
  EXPECT_NE(usage.find("Bearer"), std::string::npos);
}

TEST(ServerConfigTest, TlsFilesComeInPairs) {
  auto c = parse({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}).config;
  EXPECT_EQ(c.tls_cert_file, "c.pem");
  EXPECT_EQ(c.tls_key_file, "k.pem");
  EXPECT_EQ(c.tls_client_ca_file, "ca.pem");
  EXPECT_TRUE(c.metrics_tls_cert_file.empty()) << "plaintext /metrics unless asked";
  c = parse({}, {{"INFINI_METRICS_TLS_CERT", "m.pem"},
                 {"INFINI_METRICS_TLS_KEY", "mk.pem"},
                 {"INFINI_TLS_CERT", "c.pem"},
                 {"INFINI_TLS_KEY", "k.pem"}})
          .config;
  EXPECT_EQ(c.metrics_tls_cert_file, "m.pem");
  EXPECT_EQ(c.metrics_tls_key_file, "mk.pem");
  EXPECT_EQ(c.tls_cert_file, "c.pem");
  EXPECT_TRUE(parse({}).config.tls_cert_file.empty()) << "plaintext gRPC by default";

  EXPECT_EQ(error_of({"--tls-cert", "c.pem"}),
            "--tls-cert needs --tls-key (or INFINI_TLS_KEY) too");
  EXPECT_EQ(error_of({}, {{"INFINI_TLS_KEY", "k.pem"}}),
            "INFINI_TLS_KEY needs --tls-cert (or INFINI_TLS_CERT) too");
  EXPECT_NE(error_of({"--tls-client-ca", "ca.pem"}).find("--tls-client-ca needs --tls-cert"),
            std::string::npos);
  EXPECT_NE(error_of({"--metrics-tls-cert", "m.pem"}).find("needs --metrics-tls-key"),
            std::string::npos);
  EXPECT_NE(error_of({"--metrics-tls-key", "m.pem"}).find("needs --metrics-tls-cert"),
            std::string::npos);
  EXPECT_NE(error_of({"--metrics-listen", "", "--metrics-tls-cert", "m", "--metrics-tls-key", "k"})
                .find("/metrics is off"),
            std::string::npos);
  const std::string usage = server_usage();
  for (const char* s : {"--tls-cert", "INFINI_TLS_CERT", "--tls-key", "INFINI_TLS_KEY",
                        "--tls-client-ca", "INFINI_TLS_CLIENT_CA", "--metrics-tls-cert",
                        "INFINI_METRICS_TLS_CERT", "--metrics-tls-key", "INFINI_METRICS_TLS_KEY"}) {
    EXPECT_NE(usage.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace infini::server
