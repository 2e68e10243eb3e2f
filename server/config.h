// Every flag and environment variable of infini-server, validated once.
// A flag beats its environment variable, which beats the default.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace infini::server {

struct ServerConfig {
  std::string listen_address = "0.0.0.0:50051";  // --listen, INFINI_LISTEN
  std::string metrics_address = "0.0.0.0:9464";  // --metrics-listen, INFINI_METRICS_LISTEN ("" = off)
  // --model, INFINI_MODEL; the default is the bundled demo model, relative to
  // the working directory (the repository root, or the image's /opt/infini).
  std::string model_dir = "models/demo";
  std::string backend = "cpu";                   // --backend, INFINI_BACKEND
  std::string dtype = "bf16";                    // --dtype, INFINI_DTYPE
  std::optional<float> gate;                     // --gate, INFINI_GATE (plain Llama checkpoints)
  std::optional<int64_t> segment_size;           // --segment-size, INFINI_SEGMENT_SIZE
  // --system-prompt, INFINI_SYSTEM_PROMPT: the system turn of a chat template
  // (docs/chat-templates.md); replaces prompt_template.json's, "" = none.
  std::optional<std::string> system_prompt;
  int threads = 0;                   // --threads, INFINI_THREADS: engine workers (0 = cores)
  int64_t queue_capacity = 256;      // --queue-capacity, INFINI_QUEUE_CAPACITY
  int64_t max_sessions = 1024;       // --max-sessions, INFINI_MAX_SESSIONS
  int64_t max_state_bytes = int64_t{8} << 30;  // --max-state-bytes, INFINI_MAX_STATE_BYTES
  int64_t idle_timeout_seconds = 3600;         // --idle-timeout, INFINI_IDLE_TIMEOUT (0 = never)
  int64_t max_message_bytes = int64_t{16} << 20;  // --max-message-bytes, INFINI_MAX_MESSAGE_BYTES
  int32_t default_max_tokens = 128;   // --default-max-tokens, INFINI_DEFAULT_MAX_TOKENS
  int32_t max_tokens = 4096;          // --max-tokens-limit, INFINI_MAX_TOKENS_LIMIT
  int64_t max_streams = 1024;         // --max-streams, INFINI_MAX_STREAMS
  int64_t max_chunks_per_second = 0;  // --max-chunks-per-second, INFINI_MAX_CHUNKS_PER_SECOND (0 = off)
  int64_t max_sessions_per_tenant = 0;  // --max-sessions-per-tenant, INFINI_MAX_SESSIONS_PER_TENANT
  // --snapshot-dir, INFINI_SNAPSHOT_DIR: where sessions are made durable ("" = memory only).
  std::string snapshot_dir;
  // --auth-tokens, INFINI_AUTH_TOKENS: the bearer-token file (server/security/token_store.h);
  // "" = no authentication, every caller is tenant "".
  std::string auth_tokens_file;
  // TLS (server/security/tls_credentials.h); all "" = plaintext. Files are PEM.
  std::string tls_cert_file;          // --tls-cert, INFINI_TLS_CERT (with --tls-key)
  std::string tls_key_file;           // --tls-key, INFINI_TLS_KEY
  std::string tls_client_ca_file;     // --tls-client-ca, INFINI_TLS_CLIENT_CA: require client certs
  std::string metrics_tls_cert_file;  // --metrics-tls-cert, INFINI_METRICS_TLS_CERT
  std::string metrics_tls_key_file;   // --metrics-tls-key, INFINI_METRICS_TLS_KEY
  std::string log_level = "info";     // --log-level, INFINI_LOG_LEVEL
  std::string log_format = "text";    // --log-format, INFINI_LOG_FORMAT (text | json)
};

struct ParsedConfig {
  ServerConfig config;
  bool help = false;
};

// Throws std::invalid_argument naming the flag (or variable) and the value.
ParsedConfig parse_server_config(const std::vector<std::string>& args,
                                 const std::function<const char*(const char*)>& getenv);

std::string server_usage();

}  // namespace infini::server
