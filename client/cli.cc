// infini-client: stream documents into infini-server sessions, ask questions
// and request summaries, and manage sessions, from a shell.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/infini_client.h"
#include "client/progress.h"

namespace {

using infini::client::ClientError;
using infini::client::InfiniClient;

constexpr const char* kUsage =
    R"(usage: infini-client [--server ADDR] [--timeout SECONDS] <command> ...

commands:
  ingest FILE|-      stream a document (or stdin) into a session; prints the session id
  ask SESSION TEXT   ask a question of a session's memory; prints the answer as it streams
  summarize SESSION  summarise what a session has read
  sessions           ls | get ID | rm ID | fork ID
  health             is the server serving? exit 0 only when it is (for probes)

global flags:
  --server ADDR      the server (default: $INFINI_SERVER, else localhost:50051)
  --timeout SECONDS  deadline of each call (default: none)

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

constexpr const char* kHealthUsage = R"(usage: infini-client health [--service NAME]

Calls grpc.health.v1.Health/Check and prints the status (SERVING, NOT_SERVING,
SERVICE_UNKNOWN). Exits 0 only when SERVING, 1 otherwise (also when the server
cannot be reached), so containers and scripts can use it as a probe.

  --service NAME     a service's status (default "": the server as a whole;
                     infini.v1.LongContext is the API))";

// A command line the user got wrong: exit 2 with a pointer to --help.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string command)
      : std::runtime_error(message), command(std::move(command)) {}
  std::string command;
};

// A local failure (a file that cannot be read): exit 1.
class LocalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::set<std::string> values;    // --name VALUE, the last one counts
  std::set<std::string> repeated;  // --name VALUE, every one counts
  std::set<std::string> switches;  // --name
};

const std::set<std::string> kGlobalFlags = {"server", "timeout"};

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;
  bool help = false;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second.back();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// Flags may come before or after the positional arguments; `--` ends flags.
Args parse_args(const std::vector<std::string>& argv, const std::string& command,
                const FlagSpec& spec) {
  Args args;
  args.command = command;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (flags_done || arg == "-" || arg.rfind("-", 0) != 0) {
      args.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unknown flag '" + arg + "'", command);
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (spec.switches.count(name)) {
      if (value) throw UsageError("--" + name + " takes no value", command);
      args.values[name].push_back("true");
      continue;
    }
    if (!spec.values.count(name) && !spec.repeated.count(name) && !kGlobalFlags.count(name)) {
      throw UsageError("unknown flag --" + name, command);
    }
    if (!value) {
      if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value", command);
      value = argv[++i];
    }
    args.values[name].push_back(*value);
  }
  return args;
}

int64_t parse_integer(const Args& args, const std::string& name, int64_t fallback,
                      int64_t min_value) {
  const auto text = args.get(name);
  if (!text) return fallback;
  std::string digits = *text;
  int64_t scale = 1;
  if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
    scale = 1024, digits.pop_back();
  } else if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) {
    scale = 1024 * 1024, digits.pop_back();
  }
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != digits.size() || value * scale < min_value) {
    throw UsageError("--" + name + " expects an integer of at least " + std::to_string(min_value) +
                         ", got '" + *text + "'",
                     args.command);
  }
  return value * scale;
}

double parse_number(const Args& args, const std::string& name, double fallback) {
  const auto text = args.get(name);
  if (!text) return fallback;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text->size() || !(value >= 0.0)) {
    throw UsageError("--" + name + " expects a non-negative number, got '" + *text + "'",
                     args.command);
  }
  return value;
}

infini::client::Labels parse_labels(const Args& args) {
  infini::client::Labels labels;
  for (const auto& label : args.all("label")) {
    const auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("--label expects k=v, got '" + label + "'", args.command);
    }
    if (!labels.emplace(label.substr(0, eq), label.substr(eq + 1)).second) {
      throw UsageError("--label " + label.substr(0, eq) + " given twice", args.command);
    }
  }
  return labels;
}

void expect_positional(const Args& args, size_t count, const std::string& what) {
  if (args.positional.size() != count) {
    throw UsageError(
        "expects " + what + ", got " + std::to_string(args.positional.size()) + " argument(s)",
        args.command);
  }
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
  return InfiniClient(server, std::move(options));
}

bool is_terminal(std::FILE* file) { return ::isatty(::fileno(file)) == 1; }

std::string format_ratio(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ratio >= 100 ? "%.0fx" : "%.1fx", ratio);
  return buf;
}

std::string format_rate(double count, double seconds) {
  if (seconds <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", count / seconds);
  return buf;
}

std::string format_time(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(timestamp.seconds());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string format_labels(const google::protobuf::Map<std::string, std::string>& labels) {
  // Map order is unspecified; sort for a stable listing.
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::string out;
  for (const auto& [key, value] : sorted) out += (out.empty() ? "" : ",") + key + "=" + value;
  return out.empty() ? "-" : out;
}

void print_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    throw LocalError("cannot write the response as JSON");
  }
  std::fputs(json.c_str(), stdout);
  if (json.empty() || json.back() != '\n') std::fputc('\n', stdout);
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

constexpr const char* finish_reason_name(infini::v1::FinishReason reason) {
  switch (reason) {
    case infini::v1::FINISH_REASON_LENGTH:
      return "length";
    case infini::v1::FINISH_REASON_STOP:
      return "stop";
    case infini::v1::FINISH_REASON_END_OF_TEXT:
      return "end_of_text";
    case infini::v1::FINISH_REASON_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

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

void print_session_table(const std::vector<infini::v1::Session>& sessions) {
  struct Row {
    std::string cells[7];
  };
  std::vector<Row> rows;
  rows.push_back({{"ID", "TOKENS", "SEGMENTS", "STATE", "RATIO", "LAST USED", "LABELS"}});
  for (const auto& s : sessions) {
    rows.push_back({{s.id(), infini::client::format_count(s.tokens()),
                     infini::client::format_count(s.segments()),
                     infini::client::format_bytes(static_cast<double>(s.state_bytes())),
                     format_ratio(s.compression_ratio()), format_time(s.last_used_at()),
                     format_labels(s.labels())}});
  }
  size_t width[7] = {};
  for (const auto& row : rows) {
    for (int c = 0; c < 7; ++c) width[c] = std::max(width[c], row.cells[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (int c = 0; c < 7; ++c) {
      const std::string& cell = row.cells[c];
      const std::string pad(width[c] - cell.size(), ' ');
      // Numbers right-aligned, text left-aligned; the last column unpadded.
      const bool numeric = c >= 1 && c <= 4;
      if (c == 6) {
        line += cell;
      } else {
        line += numeric ? pad + cell : cell + pad;
        line += "  ";
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_session(const infini::v1::Session& s) {
  using infini::client::format_bytes;
  using infini::client::format_count;
  std::printf("id:                  %s\n", s.id().c_str());
  std::printf("model:               %s\n", s.model().c_str());
  std::printf("tokens:              %s\n", format_count(s.tokens()).c_str());
  std::printf("segments:            %s\n", format_count(s.segments()).c_str());
  std::printf("pending text bytes:  %s\n", format_count(s.pending_text_bytes()).c_str());
  std::printf("state bytes:         %s (%s)\n", format_count(s.state_bytes()).c_str(),
              format_bytes(static_cast<double>(s.state_bytes())).c_str());
  std::printf("kv equivalent bytes: %s (%s)\n", format_count(s.kv_equivalent_bytes()).c_str(),
              format_bytes(static_cast<double>(s.kv_equivalent_bytes())).c_str());
  std::printf("compression ratio:   %s\n", format_ratio(s.compression_ratio()).c_str());
  std::printf("created at:          %s\n", format_time(s.created_at()).c_str());
  std::printf("last used at:        %s\n", format_time(s.last_used_at()).c_str());
  std::printf("labels:              %s\n", format_labels(s.labels()).c_str());
}

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

// ---- health ----

int health_command(const std::vector<std::string>& argv) {
  const Args args = parse_args(argv, "health", {{"service"}});
  if (args.help) return std::puts(kHealthUsage), 0;
  expect_positional(args, 0, "no argument (use --service NAME)");
  InfiniClient client = connect(args);
  const std::string status = client.health(args.get("service").value_or(""));
  std::printf("%s\n", status.c_str());
  return status == "SERVING" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  // The command is the first word that is neither a global flag nor its value.
  std::string command;
  std::vector<std::string> rest;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& arg = all[i];
    if (command.empty()) {
      if (arg == "--help" || arg == "-h") return std::puts(kUsage), 0;
      if (arg == "--server" || arg == "--timeout") {
        rest.push_back(arg);
        if (i + 1 < all.size()) rest.push_back(all[++i]);
        continue;
      }
      if (arg.rfind("--server=", 0) == 0 || arg.rfind("--timeout=", 0) == 0) {
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
