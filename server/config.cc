#include "server/config.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace infini::server {

namespace {

struct Option {
  const char* flag;
  const char* env;
  const char* help;
};

// The single list behind parsing and --help.
const Option kOptions[] = {
    {"listen", "INFINI_LISTEN", "gRPC address (default 0.0.0.0:50051)"},
    {"metrics-listen", "INFINI_METRICS_LISTEN",
     "Prometheus /metrics address (default 0.0.0.0:9464; empty turns it off)"},
    {"model", "INFINI_MODEL",
     "model directory (config.json, model.safetensors, tokenizer.model); default models/demo"},
    {"backend", "INFINI_BACKEND",
     "engine backend: cpu (default) or cuda (an NVIDIA GPU; the server exits at start, saying "
     "why, when this build or machine has none)"},
    {"dtype", "INFINI_DTYPE", "matrix precision: bf16 (default) or f32"},
    {"gate", "INFINI_GATE",
     "memory gate in (0,1) for checkpoints without memory_gate tensors (untrained memory); "
     "without it such a checkpoint runs with memory off: local attention in each segment"},
    {"segment-size", "INFINI_SEGMENT_SIZE",
     "segment length S in tokens, overriding config.json's segment_size (default: the "
     "checkpoint's, or 2048 for a Hugging Face checkpoint without one)"},
    {"system-prompt", "INFINI_SYSTEM_PROMPT",
     "system prompt of a model with a chat template, replacing prompt_template.json's "
     "system_prompt; empty: none (default: the file's, else none)"},
    {"threads", "INFINI_THREADS",
     "engine workers: sessions computed in parallel (default: usable cores, "
     "from the CPU affinity mask and the cgroup CPU quota)"},
    {"queue-capacity", "INFINI_QUEUE_CAPACITY",
     "engine tasks that may wait; more are refused with RESOURCE_EXHAUSTED (default 256)"},
    {"max-sessions", "INFINI_MAX_SESSIONS", "sessions at most (default 1024)"},
    {"max-state-bytes", "INFINI_MAX_STATE_BYTES",
     "bytes of session state in memory at most, all sessions together; past it, with "
     "--snapshot-dir, idle sessions are evicted to disk and reloaded on use, otherwise new "
     "sessions are refused (default 8589934592)"},
    {"idle-timeout", "INFINI_IDLE_TIMEOUT",
     "seconds after which an unused session is deleted; 0 keeps them (default 3600)"},
    {"max-message-bytes", "INFINI_MAX_MESSAGE_BYTES",
     "largest gRPC message accepted (default 16777216)"},
    {"default-max-tokens", "INFINI_DEFAULT_MAX_TOKENS",
     "tokens generated when a request does not say (default 128)"},
    {"max-tokens-limit", "INFINI_MAX_TOKENS_LIMIT", "largest max_tokens a request may ask (default 4096)"},
    {"max-streams", "INFINI_MAX_STREAMS",
     "streaming calls (Ingest, Ask, Summarize, ...) open at once, all clients together; "
     "more are refused with RESOURCE_EXHAUSTED (default 1024)"},
    {"max-chunks-per-second", "INFINI_MAX_CHUNKS_PER_SECOND",
     "Ingest chunks a session may receive per second, with a burst of as many; 0 = no "
     "limit (default 0)"},
    {"max-sessions-per-tenant", "INFINI_MAX_SESSIONS_PER_TENANT",
     "sessions one tenant may hold when auth is on; 0 = only --max-sessions (default 0)"},
    {"snapshot-dir", "INFINI_SNAPSHOT_DIR",
     "directory of session snapshots, written after every Ingest and at shutdown and "
     "restored at start (default: none, sessions live in memory only)"},
    {"auth-tokens", "INFINI_AUTH_TOKENS",
     "file of bearer tokens, one '<tenant> <token|sha256:HEX> [expires=2027-01-01T00:00:00Z]' "
     "a line: every LongContext call must send 'authorization: Bearer <token>' and sees only "
     "its tenant's sessions; reloaded on SIGHUP and when it changes; health and reflection "
     "stay open (default: none, no authentication)"},
    {"tls-cert", "INFINI_TLS_CERT",
     "PEM certificate chain of the gRPC server: serve TLS instead of plaintext (needs --tls-key)"},
    {"tls-key", "INFINI_TLS_KEY", "PEM private key of --tls-cert (unencrypted)"},
    {"tls-client-ca", "INFINI_TLS_CLIENT_CA",
     "PEM CA certificates: clients must present a certificate they signed (mutual TLS; "
     "needs --tls-cert)"},
    {"metrics-tls-cert", "INFINI_METRICS_TLS_CERT",
     "PEM certificate chain for /metrics: serve https instead of http (needs --metrics-tls-key)"},
    {"metrics-tls-key", "INFINI_METRICS_TLS_KEY", "PEM private key of --metrics-tls-cert"},
    {"log-level", "INFINI_LOG_LEVEL", "trace, debug, info (default), warn, error"},
    {"log-format", "INFINI_LOG_FORMAT", "text (default) or json (one object per line)"},
};

int64_t parse_int(const std::string& name, const std::string& value, int64_t min, int64_t max) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size()) {
    throw std::invalid_argument(name + " expects an integer, got '" + value + "'");
  }
  if (v < min || v > max) {
    throw std::invalid_argument(name + " must be between " + std::to_string(min) + " and " +
                                std::to_string(max) + ", got " + value);
  }
  return v;
}

}  // namespace

std::string server_usage() {
  std::string out =
      "usage: infini-server [--model DIR] [flags]\n\n"
      "Serves infini.v1.LongContext over gRPC (with health checking and reflection) and\n"
      "Prometheus metrics over HTTP. Every flag can also be set by its environment variable.\n\n";
  for (const auto& o : kOptions) {
    std::string left = std::string("  --") + o.flag + " (" + o.env + ")";
    left.resize(std::max<size_t>(left.size() + 2, 44), ' ');
    out += left + o.help + "\n";
  }
  out += "  --help" + std::string(36, ' ') + "this text\n";
  return out;
}

ParsedConfig parse_server_config(const std::vector<std::string>& args,
                                 const std::function<const char*(const char*)>& getenv) {
  ParsedConfig parsed;
  std::map<std::string, std::pair<std::string, std::string>> values;  // flag -> (source, value)
  for (const auto& o : kOptions) {
    if (const char* v = getenv(o.env)) values[o.flag] = {o.env, v};
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--help" || a == "-h") {
      parsed.help = true;
      return parsed;
    }
    if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw std::invalid_argument("flag --" + name + " needs a value");
    }
    const bool known = std::any_of(std::begin(kOptions), std::end(kOptions),
                                   [&](const Option& o) { return name == o.flag; });
    if (!known) throw std::invalid_argument("unknown flag --" + name + " (see --help)");
    values[name] = {"--" + name, value};
  }

  ServerConfig& c = parsed.config;
  auto get = [&](const char* flag, auto apply) {
    auto it = values.find(flag);
    if (it != values.end()) apply(it->second.first, it->second.second);
  };
  get("listen", [&](auto&, auto& v) { c.listen_address = v; });
  get("metrics-listen", [&](auto&, auto& v) { c.metrics_address = v; });
  get("model", [&](auto&, auto& v) { c.model_dir = v; });
  get("backend", [&](auto& n, auto& v) {
    if (v != "cpu" && v != "cuda") {
      throw std::invalid_argument(n + ": unknown backend '" + v + "' (expected cpu or cuda)");
    }
    c.backend = v;
  });
  get("dtype", [&](auto& n, auto& v) {
    if (v != "bf16" && v != "f32") throw std::invalid_argument(n + " must be bf16 or f32, got '" + v + "'");
    c.dtype = v;
  });
  get("gate", [&](auto& n, auto& v) {
    size_t used = 0;
    float g = 0;
    try {
      g = std::stof(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || !(g > 0.0f && g < 1.0f)) {
      throw std::invalid_argument(n + " must be a number strictly between 0 and 1, got '" + v + "'");
    }
    c.gate = g;
  });
  get("segment-size", [&](auto& n, auto& v) { c.segment_size = parse_int(n, v, 1, 1 << 20); });
  get("system-prompt", [&](auto&, auto& v) { c.system_prompt = v; });
  get("threads", [&](auto& n, auto& v) { c.threads = static_cast<int>(parse_int(n, v, 0, 1024)); });
  get("queue-capacity", [&](auto& n, auto& v) { c.queue_capacity = parse_int(n, v, 1, 1 << 20); });
  get("max-sessions", [&](auto& n, auto& v) { c.max_sessions = parse_int(n, v, 1, 1 << 24); });
  get("max-state-bytes",
      [&](auto& n, auto& v) { c.max_state_bytes = parse_int(n, v, 1, INT64_MAX); });
  get("idle-timeout",
      [&](auto& n, auto& v) { c.idle_timeout_seconds = parse_int(n, v, 0, int64_t{1} << 40); });
  get("max-message-bytes", [&](auto& n, auto& v) {
    c.max_message_bytes = parse_int(n, v, 1024, int64_t{1} << 30);
  });
  get("default-max-tokens", [&](auto& n, auto& v) {
    c.default_max_tokens = static_cast<int32_t>(parse_int(n, v, 1, 1 << 20));
  });
  get("max-tokens-limit", [&](auto& n, auto& v) {
    c.max_tokens = static_cast<int32_t>(parse_int(n, v, 1, 1 << 20));
  });
  get("max-streams", [&](auto& n, auto& v) { c.max_streams = parse_int(n, v, 1, 1 << 20); });
  get("max-chunks-per-second",
      [&](auto& n, auto& v) { c.max_chunks_per_second = parse_int(n, v, 0, 1 << 30); });
  get("max-sessions-per-tenant",
      [&](auto& n, auto& v) { c.max_sessions_per_tenant = parse_int(n, v, 0, 1 << 24); });
  get("snapshot-dir", [&](auto&, auto& v) { c.snapshot_dir = v; });
  get("auth-tokens", [&](auto& n, auto& v) {
    if (v.empty()) throw std::invalid_argument(n + " is empty: name the token file");
    c.auth_tokens_file = v;
  });
  get("tls-cert", [&](auto&, auto& v) { c.tls_cert_file = v; });
  get("tls-key", [&](auto&, auto& v) { c.tls_key_file = v; });
  get("tls-client-ca", [&](auto&, auto& v) { c.tls_client_ca_file = v; });
  get("metrics-tls-cert", [&](auto&, auto& v) { c.metrics_tls_cert_file = v; });
  get("metrics-tls-key", [&](auto&, auto& v) { c.metrics_tls_key_file = v; });
  get("log-level", [&](auto& n, auto& v) {
    static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (std::none_of(std::begin(levels), std::end(levels), [&](const char* l) { return v == l; })) {
      throw std::invalid_argument(n + ": unknown log level '" + v + "'");
    }
    c.log_level = v;
  });
  get("log-format", [&](auto& n, auto& v) {
    if (v != "text" && v != "json") throw std::invalid_argument(n + " must be text or json, got '" + v + "'");
    c.log_format = v;
  });
  // TLS flags that only make sense together; named as the user gave them.
  auto source = [&](const char* flag) {
    auto it = values.find(flag);
    return it == values.end() ? std::string("--") + flag : it->second.first;
  };
  auto needs = [&](const std::string& have, const char* flag, const std::string& want,
                   const char* wanted) {
    if (!have.empty() && want.empty()) {
      const auto o = std::find_if(std::begin(kOptions), std::end(kOptions),
                                  [&](const Option& x) { return std::string(wanted) == x.flag; });
      throw std::invalid_argument(source(flag) + " needs --" + wanted + " (or " + o->env + ") too");
    }
  };
  needs(c.tls_cert_file, "tls-cert", c.tls_key_file, "tls-key");
  needs(c.tls_key_file, "tls-key", c.tls_cert_file, "tls-cert");
  needs(c.tls_client_ca_file, "tls-client-ca", c.tls_cert_file, "tls-cert");
  needs(c.metrics_tls_cert_file, "metrics-tls-cert", c.metrics_tls_key_file, "metrics-tls-key");
  needs(c.metrics_tls_key_file, "metrics-tls-key", c.metrics_tls_cert_file, "metrics-tls-cert");
  if (!c.metrics_tls_cert_file.empty() && c.metrics_address.empty()) {
    throw std::invalid_argument(source("metrics-tls-cert") +
                                " is set but /metrics is off (--metrics-listen is empty)");
  }
  if (c.model_dir.empty()) {
    throw std::invalid_argument("--model (or INFINI_MODEL) is empty: give a model directory");
  }
  if (c.default_max_tokens > c.max_tokens) {
    throw std::invalid_argument("--default-max-tokens is larger than --max-tokens-limit");
  }
  return parsed;
}

}  // namespace infini::server
