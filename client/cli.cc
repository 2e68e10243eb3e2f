// infini-client: stream documents into infini-server sessions, ask questions
// and request summaries, and manage sessions, from a shell. The command-line
// vocabulary is in cli_args.h, how results are written in cli_output.h; this
// file has each command's usage text and what it does.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/cli_errors.h"
#include "client/cli_output.h"
#include "client/infini_client.h"
#include "client/progress.h"

namespace infini::client::cli {
namespace {

constexpr const char* kUsage =
    R"(usage: infini-client [--server ADDR] [--timeout SECONDS] <command> ...

commands:
  ingest FILE|-      stream a document (or stdin) into a session; prints the session id
  ask SESSION TEXT   ask a question of a session's memory; prints the answer as it streams
  summarize SESSION  summarise what a session has read
  sessions           ls | get ID | rm ID | fork ID
  export SESSION     write a session's snapshot to a file (--out FILE)
  import FILE|-      recreate a session from an exported snapshot; prints its id
  health             is the server serving? exit 0 only when it is (for probes)

global flags:
  --server ADDR      the server (default: $INFINI_SERVER, else localhost:50051)
  --timeout SECONDS  deadline of each call (default: none)
  --tls-ca FILE      connect over TLS, trusting the PEM certificates in FILE
                     (default: $INFINI_TLS_CA; none: plaintext)
  --tls-cert FILE    this client's PEM certificate, for a server that requires
                     one (--tls-client-ca); with --tls-key ($INFINI_TLS_CLIENT_CERT)
  --tls-key FILE     its PEM private key ($INFINI_TLS_CLIENT_KEY)
  --tls-server-name NAME  the name expected in the server's certificate
                     (default: the --server host; $INFINI_TLS_SERVER_NAME)
  --token-file FILE  send the bearer token in FILE (its first line) on every call,
                     for a server run with --auth-tokens (default: $INFINI_TOKEN,
                     the token itself; none: no token). No --token flag: a
                     command line is visible to every user in ps

Run `infini-client <command> --help` for a command's flags.)";

constexpr const char* kIngestUsage = R"(usage: infini-client ingest FILE|- [flags]

Streams FILE (or stdin for -) into a session, showing progress on stderr, then
prints the session id on stdout and a summary line on stderr.

  --session ID       read into this existing session (default: create a new one)
  --label k=v        a label of the new session (repeatable)
  --chunk-bytes N    bytes per message, cut anywhere (default 64K; K and M suffixes)
  --no-flush         keep text after the last word boundary pending, for a
                     document sent in several parts
  --no-progress      no progress bar (the summary line is still printed))";

constexpr const char* kGenerationFlags = R"(
  --max-tokens N     most tokens to generate (default: the server's)
  --temperature T    0 is greedy (default 0)
  --top-k K          sample from the K most likely tokens (default: no limit)
  --top-p P          nucleus cut (default: none)
  --seed S           sampling seed
  --stop STR         stop at STR (repeatable; default: the model's template stops)

The text goes to stdout as it streams; a usage line (finish reason, prompt and
generated tokens, time to first token, tokens/s) goes to stderr.)";

constexpr const char* kAskUsage = R"(usage: infini-client ask SESSION QUESTION|- [flags]

Asks QUESTION (or stdin for -) of the session's memory. The session itself
does not change. Put -- before a QUESTION that starts with -.)";

constexpr const char* kSummarizeUsage = R"(usage: infini-client summarize SESSION [flags]

Summarises what the session has read. The session itself does not change.)";

constexpr const char* kSessionsUsage = R"(usage: infini-client sessions <ls|get|rm|fork> ...

  sessions ls [--page-size N] [--json]   every session: id, tokens, segments, state,
                                         compression ratio, last used, labels
  sessions get ID [--json]               one session's details
  sessions rm ID                         delete a session
  sessions fork ID [--label k=v ...]     copy a session's state into a new session;
                                         prints the new id)";

constexpr const char* kExportUsage = R"(usage: infini-client export SESSION --out FILE|-

Writes the session's snapshot (memory, position, pending text, labels, the
model's identity, a checksum) to FILE, or to stdout with `--out -`. Import it
into any server running the same model with `infini-client import FILE`.

  --out FILE         where the snapshot goes (required))";

constexpr const char* kImportUsage = R"(usage: infini-client import FILE|- [--json]

Recreates a session from a snapshot written by `infini-client export` (or
read from stdin with -) and prints its new id (an import never reuses the
exported session's id).
The server must run the same model; the session belongs to the caller.

  --json             print the whole session as JSON)";

constexpr const char* kHealthUsage = R"(usage: infini-client health [--service NAME]

Calls grpc.health.v1.Health/Check and prints the status (SERVING, NOT_SERVING,
SERVICE_UNKNOWN). Exits 0 only when SERVING, 1 otherwise (also when the server
cannot be reached), so containers and scripts can use it as a probe.

  --service NAME     a service's status (default "": the server as a whole;
                     infini.v1.LongContext is the API))";

// --token-file's first line, else $INFINI_TOKEN, else none. Errors name the
// file, never its content.
std::string bearer_token(const Args& args) {
  if (const auto path = args.get("token-file")) {
    std::ifstream in(*path);
    if (!in) {
      throw UsageError("--token-file " + *path + ": cannot read it: " + std::strerror(errno),
                       args.command);
    }
    std::string line;
    std::getline(in, line);
    const auto first = line.find_first_not_of(" \t\r");
    const auto last = line.find_last_not_of(" \t\r");
    if (first == std::string::npos) {
      throw UsageError("--token-file " + *path + ": the first line holds no token", args.command);
    }
    return line.substr(first, last - first + 1);
  }
  const char* env = std::getenv("INFINI_TOKEN");
  return env != nullptr ? env : "";
}

// --server (else $INFINI_SERVER, else localhost:50051) and --timeout.
InfiniClient connect(const Args& args) {
  std::string server = "localhost:50051";
  if (const char* env = std::getenv("INFINI_SERVER"); env != nullptr && *env != '\0') {
    server = env;
  }
  server = args.get("server").value_or(server);
  infini::client::ClientOptions options;
  if (args.has("timeout")) {
    const double seconds = parse_number(args, "timeout", 0.0);
    if (!(seconds > 0)) throw UsageError("--timeout must be more than 0 seconds", args.command);
    options.call_timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
  }
  // TLS: a flag beats its variable. (Not INFINI_TLS_CERT / _KEY: those are the
  // server's own certificate, set in the same container as the health check.)
  auto flag_or_env = [&](const char* flag, const char* env) {
    const char* value = std::getenv(env);
    return args.get(flag).value_or(value != nullptr ? value : "");
  };
  options.tls_ca_file = flag_or_env("tls-ca", "INFINI_TLS_CA");
  options.tls_cert_file = flag_or_env("tls-cert", "INFINI_TLS_CLIENT_CERT");
  options.tls_key_file = flag_or_env("tls-key", "INFINI_TLS_CLIENT_KEY");
  options.tls_server_name = flag_or_env("tls-server-name", "INFINI_TLS_SERVER_NAME");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    throw UsageError(
        "--tls-cert and --tls-key (INFINI_TLS_CLIENT_CERT, INFINI_TLS_CLIENT_KEY) go together",
        args.command);
  }
  options.bearer_token = bearer_token(args);
  return InfiniClient(server, std::move(options));
}

// ---- ingest ----

int ingest_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(
      argv, "ingest", {{"session", "chunk-bytes"}, {"label"}, {"no-progress", "no-flush"}});
  if (args.help) return std::puts(kIngestUsage), 0;
  expect_positional(args, 1, "one FILE or -");
  infini::client::IngestOptions options;
  options.session_id = args.get("session").value_or("");
  options.labels = parse_labels(args);
  if (!options.session_id.empty() && !options.labels.empty()) {
    throw UsageError("--label names a new session's labels; it cannot go with --session",
                     args.command);
  }
  options.chunk_bytes = static_cast<size_t>(parse_integer(args, "chunk-bytes", 64 * 1024, 1));
  options.flush = !args.has("no-flush");
  InfiniClient client = connect(args);

  const std::string& path = args.positional[0];
  std::ifstream file;
  std::istream* document = &std::cin;
  if (path != "-") {
    if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
      throw LocalError("cannot read '" + path + "': it is a directory");
    }
    file.open(path, std::ios::binary);
    if (!file) throw LocalError("cannot open '" + path + "': " + std::strerror(errno));
    document = &file;
  }

  infini::client::TransferProgress progress(stderr,
                                            !args.has("no-progress") && is_terminal(stderr));
  infini::v1::IngestResponse response;
  try {
    response = client.ingest(*document, options, [&](const infini::client::IngestProgress& p) {
      progress.update(p.sent, p.total, p.last);
    });
  } catch (...) {
    progress.abandon();
    throw;
  }
  const double wall = progress.seconds();
  const auto& session = response.session();
  using infini::client::format_bytes;
  using infini::client::format_count;
  std::string summary = format_bytes(static_cast<double>(response.bytes())) + " in " +
                        infini::client::format_seconds(wall) + " (" +
                        format_bytes(response.bytes() / std::max(wall, 1e-9)) +
                        "/s): " + format_count(response.tokens()) + " tokens, " +
                        format_rate(static_cast<double>(response.tokens()),
                                    response.seconds() > 0 ? response.seconds() : wall) +
                        " tokens/s, " + format_count(response.segments()) + " segments; session " +
                        format_count(session.tokens()) + " tokens, state " +
                        format_bytes(static_cast<double>(session.state_bytes())) +
                        ", compression " + format_ratio(session.compression_ratio()) + " vs a " +
                        format_bytes(static_cast<double>(session.kv_equivalent_bytes())) +
                        " KV cache";
  progress.finish(summary);
  std::printf("%s\n", session.id().c_str());
  return 0;
}

// ---- ask / summarize ----

infini::client::GenerationParams parse_generation_params(const Args& args) {
  infini::client::GenerationParams params;
  params.max_tokens = static_cast<int32_t>(parse_integer(args, "max-tokens", 0, 0));
  params.temperature = static_cast<float>(parse_number(args, "temperature", 0.0));
  params.top_k = static_cast<int32_t>(parse_integer(args, "top-k", 0, 0));
  params.top_p = static_cast<float>(parse_number(args, "top-p", 0.0));
  if (params.top_p > 1.0f) throw UsageError("--top-p must be within [0, 1]", args.command);
  params.seed = static_cast<uint64_t>(parse_integer(args, "seed", 0, 0));
  params.stop = args.all("stop");
  return params;
}

const FlagSpec kGenerationSpec = {
    {"max-tokens", "temperature", "top-k", "top-p", "seed"}, {"stop"}, {}};

int generate_command(const std::vector<std::string>& argv, const std::string& command) {
  const Args args = parse_args(argv, command, kGenerationSpec);
  const bool ask = command == "ask";
  if (args.help) {
    std::printf("%s\n%s\n", ask ? kAskUsage : kSummarizeUsage, kGenerationFlags);
    return 0;
  }
  expect_positional(args, ask ? 2 : 1, ask ? "SESSION and QUESTION" : "SESSION");
  const infini::client::GenerationParams params = parse_generation_params(args);
  InfiniClient client = connect(args);
  const std::string& session_id = args.positional[0];
  std::string question;
  if (ask) {
    question = args.positional[1];
    if (question == "-") {
      question.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
  }

  char last_char = '\n';
  auto on_text = [&](std::string_view delta) {
    std::fwrite(delta.data(), 1, delta.size(), stdout);
    std::fflush(stdout);
    last_char = delta.back();
    return true;
  };
  const infini::client::GenerateResult result =
      ask ? client.ask(session_id, question, params, on_text)
          : client.summarize(session_id, params, on_text);
  // A terminal gets the answer on its own line; a pipe gets the text exactly.
  if (last_char != '\n' && is_terminal(stdout)) std::fputc('\n', stdout);
  std::fflush(stdout);
  const auto& usage = result.usage;
  std::fprintf(stderr,
               "finish: %s, prompt %s tokens, generated %s tokens, first token %s, "
               "%s tokens/s, total %s\n",
               finish_reason_name(result.finish_reason),
               infini::client::format_count(usage.prompt_tokens()).c_str(),
               infini::client::format_count(usage.generated_tokens()).c_str(),
               infini::client::format_seconds(usage.time_to_first_token_seconds()).c_str(),
               format_rate(usage.tokens_per_second(), 1.0).c_str(),
               infini::client::format_seconds(usage.total_seconds()).c_str());
  return 0;
}

// ---- sessions ----

int sessions_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv, "sessions", {{"page-size"}, {"label"}, {"json"}});
  if (args.help) return std::puts(kSessionsUsage), 0;
  if (args.positional.empty()) throw UsageError("expects ls, get, rm or fork", args.command);
  const std::string sub = args.positional[0];
  const bool json = args.has("json");
  InfiniClient client = connect(args);
  auto only = [&](std::set<std::string> allowed) {
    for (const auto& [name, value] : args.values) {
      if (!allowed.count(name) && !kGlobalFlags.count(name)) {
        throw UsageError("sessions " + sub + " takes no --" + name, args.command);
      }
    }
  };
  if (sub == "ls") {
    only({"page-size", "json"});
    expect_positional(args, 1, "no argument after ls");
    const auto sessions =
        client.list_all_sessions(static_cast<int32_t>(parse_integer(args, "page-size", 0, 0)));
    if (json) {
      infini::v1::ListSessionsResponse all;
      for (const auto& s : sessions) *all.add_sessions() = s;
      print_json(all);
    } else {
      print_session_table(sessions);
    }
    return 0;
  }
  if (sub == "get" || sub == "rm" || sub == "fork") {
    expect_positional(args, 2, "a session ID after " + sub);
    const std::string& id = args.positional[1];
    if (sub == "get") {
      only({"json"});
      const auto session = client.get_session(id);
      json ? print_json(session) : print_session(session);
    } else if (sub == "rm") {
      only({});
      client.delete_session(id);
      std::fprintf(stderr, "deleted %s\n", id.c_str());
    } else {
      only({"label", "json"});
      const auto session = client.fork_session(id, parse_labels(args));
      json ? print_json(session) : (void)std::printf("%s\n", session.id().c_str());
    }
    return 0;
  }
  throw UsageError("unknown sessions command '" + sub + "' (ls, get, rm, fork)", args.command);
}

// ---- export / import ----

int export_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv, "export", {{"out"}, {}, {}});
  if (args.help) return std::puts(kExportUsage), 0;
  expect_positional(args, 1, "a session ID");
  const auto out = args.get("out");
  if (!out || out->empty()) throw UsageError("needs --out FILE (or --out - for stdout)", "export");
  InfiniClient client = connect(args);
  const std::string bytes = client.export_session(args.positional[0]);
  if (*out == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    if (!std::cout) throw LocalError("cannot write the snapshot to stdout");
  } else {
    std::ofstream file(*out, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) {
      throw LocalError("cannot write " + *out + ": " + std::strerror(errno));
    }
  }
  std::fprintf(stderr, "exported %s: %zu bytes\n", args.positional[0].c_str(), bytes.size());
  return 0;
}

int import_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv, "import", {{}, {}, {"json"}});
  if (args.help) return std::puts(kImportUsage), 0;
  expect_positional(args, 1, "a snapshot FILE (or - for stdin)");
  const std::string& path = args.positional[0];
  std::string bytes;
  if (path == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw LocalError("cannot read " + path + ": " + std::strerror(errno));
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (file.bad()) throw LocalError("cannot read " + path + ": " + std::strerror(errno));
  }
  InfiniClient client = connect(args);
  const auto session = client.import_session(bytes);
  args.has("json") ? print_json(session) : (void)std::printf("%s\n", session.id().c_str());
  return 0;
}

// ---- health ----

int health_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv, "health", {{"service"}, {}, {}});
  if (args.help) return std::puts(kHealthUsage), 0;
  expect_positional(args, 0, "no argument (use --service NAME)");
  InfiniClient client = connect(args);
  const std::string status = client.health(args.get("service").value_or(""));
  std::printf("%s\n", status.c_str());
  return status == "SERVING" ? 0 : 1;
}

int run(int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  // The command is the first word that is neither a global flag nor its value.
  std::string command;
  std::vector<std::string> rest;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& arg = all[i];
    if (command.empty()) {
      if (arg == "--help" || arg == "-h") return std::puts(kUsage), 0;
      if (arg.rfind("--", 0) == 0 && kGlobalFlags.count(arg.substr(2))) {
        rest.push_back(arg);
        if (i + 1 < all.size()) rest.push_back(all[++i]);
        continue;
      }
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos &&
                                         kGlobalFlags.count(arg.substr(2, eq - 2))) {
        rest.push_back(arg);
        continue;
      }
      if (arg.rfind("-", 0) == 0) {
        std::fprintf(stderr, "infini-client: unknown flag '%s' before the command\n%s\n",
                     arg.c_str(), kUsage);
        return 2;
      }
      command = arg;
      continue;
    }
    rest.push_back(arg);
  }
  if (command.empty()) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }

  try {
    if (command == "ingest") return ingest_command(rest);
    if (command == "ask" || command == "summarize") return generate_command(rest, command);
    if (command == "sessions") return sessions_command(rest);
    if (command == "health") return health_command(rest);
    if (command == "export") return export_command(rest);
    if (command == "import") return import_command(rest);
    throw UsageError("unknown command '" + command + "'", "");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "infini-client: %s\n(see infini-client %s--help)\n", e.what(),
                 e.command.empty() ? "" : (e.command + " ").c_str());
    return 2;
  } catch (const ClientError& e) {
    std::fprintf(stderr, "infini-client: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infini-client: %s\n", e.what());
    return 1;
  }
}

}  // namespace
}  // namespace infini::client::cli

int main(int argc, char** argv) { return infini::client::cli::run(argc, argv); }
