// End-to-end test support: the real infini-server binary in a child process
// on kernel-chosen ports, a small random checkpoint made once per test
// binary, a plain-socket GET for /metrics, and a Prometheus text parser.
//
// Everything a test starts is cleaned up by destructors (server killed, temp
// dirs removed), so a failing ASSERT never leaves a server or a directory
// behind. Header-only: each e2e test binary includes it once.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/infini_client.h"
#include "proto/infini/v1/long_context.grpc.pb.h"

namespace infini::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "infini-e2e") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string bin_path(const std::string& name) {
  return std::string(INFINI_BIN_DIR) + "/" + name;
}

// The result of running a command to completion.
struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string output;        // stdout and stderr together, or stdout alone (separate_stderr)
  std::string error_output;  // stderr, with separate_stderr
};

namespace detail {

// fork + exec with stdout/stderr to `log_path`, in a new process group.
// Everything the child touches is prepared before fork(): a multithreaded
// parent (gRPC, gtest) may only make async-signal-safe calls in the child.
inline pid_t spawn(const std::vector<std::string>& argv, const fs::path& log_path,
                   const std::vector<std::string>& extra_env = {},
                   const std::optional<fs::path>& stderr_path = std::nullopt) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The parent's environment plus `extra_env` ("NAME=value", replacing).
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    const bool replaced =
        std::any_of(extra_env.begin(), extra_env.end(),
                    [&](const std::string& x) { return x.rfind(name + "=", 0) == 0; });
    if (!replaced) env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = log_path.string();
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log + ": " + std::strerror(errno));
  const int err_fd =
      stderr_path ? ::open(stderr_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                  : -1;
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    ::close(devnull);
    if (err_fd >= 0) ::close(err_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // If the test binary dies without running destructors (a crash, a
    // timeout kill), the server goes with it instead of lingering. (The
    // signal comes when the forking *thread* ends: start servers from the
    // test's own thread, not from a short-lived one.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(err_fd >= 0 ? err_fd : fd, STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    const char msg[] = "exec failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // both sides, so no race with a kill right after
  ::close(fd);
  if (devnull >= 0) ::close(devnull);
  if (err_fd >= 0) ::close(err_fd);
  return pid;
}

// For the engine's processes (infini-server, infini run):
// libgomp's default spin-wait (300,000 spins before sleeping) makes the
// engine's OpenMP teams crawl whenever another OpenMP process runs on
// the same cores, as on a shared test machine: an 800 KB ingest took
// >40 s instead of 1.2 s. 1,000 spins (libgomp's own value for an
// oversubscribed machine) keeps these tests' timings bounded. Waiting
// changes no result. Any GOMP_SPINCOUNT / OMP_WAIT_POLICY set wins.
// (OMP_THREAD_LIMIT is no option: oneDNN then partitions work for more
// threads than run, and results change.)
inline std::vector<std::string> openmp_env() {
  std::vector<std::string> env;
  if (std::getenv("GOMP_SPINCOUNT") == nullptr && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    env.push_back("GOMP_SPINCOUNT=1000");
  }
  return env;
}

// Waits up to `timeout` for `pid`; returns the waitpid status or nullopt.
inline std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;  // not our child (already reaped)
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

inline int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

}  // namespace detail

// Runs `argv` (argv[0] a path) to completion, output captured, killed after `timeout`.
inline CommandResult run_command(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = 30s,
                                 bool separate_stderr = false) {
  TempDir dir("infini-cmd");
  const fs::path log = dir.path() / "output.log";
  const fs::path err = dir.path() / "error.log";
  const pid_t pid =
      detail::spawn(argv, log, {}, separate_stderr ? std::optional<fs::path>(err) : std::nullopt);
  CommandResult result;
  auto status = detail::wait_for(pid, timeout);
  if (!status) {
    result.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int s = 0;
    ::waitpid(pid, &s, 0);
  } else {
    result.exit_code = detail::exit_code_of(*status);
  }
  result.output = read_file(log);
  if (separate_stderr) result.error_output = read_file(err);
  return result;
}

// The server under test: build/bin/infini-server, or $INFINI_E2E_SERVER (to
// run these tests against another build of it).
inline std::string server_binary() {
  const char* override_path = std::getenv("INFINI_E2E_SERVER");
  return override_path && *override_path ? override_path : bin_path("infini-server");
}

// A small random checkpoint, written once per test binary into a temp dir
// that is removed at exit. Random weights give arbitrary but deterministic
// text: compare answers between runs, never against expected words.
inline const std::string& test_model_dir() {
  static std::mutex mutex;
  static std::unique_ptr<TempDir> dir;
  static std::string path;
  std::lock_guard lock(mutex);
  if (!path.empty()) return path;
  dir = std::make_unique<TempDir>("infini-e2e-model");
  const std::string out = (dir->path() / "model").string();
  const CommandResult r =
      run_command({bin_path("infini"),
                   "make-model",
                   "--out",
                   out,
                   "--seed",
                   "1",
                   "--tokenizer",
                   std::string(INFINI_TEST_DATA_DIR) + "/tokenizer/tokenizer.model",
                   "--hidden",
                   "64",
                   "--layers",
                   "2",
                   "--heads",
                   "4",
                   "--kv-heads",
                   "2",
                   "--intermediate",
                   "128",
                   "--segment",
                   "64",
                   "--update",
                   "delta"},
                  60s);
  if (r.exit_code != 0) {
    throw std::runtime_error("infini make-model failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.output);
  }
  path = out;
  return path;
}

// The infini-server binary on 127.0.0.1 with kernel-chosen gRPC and metrics
// ports. Start with ServerProcess::start (throws with the server's log when
// it does not come up); the destructor sends SIGTERM, waits, then SIGKILLs.
class ServerProcess {
 public:
  static constexpr std::chrono::seconds kStartTimeout{20};
  // The server gives in-flight calls 10 s after SIGTERM.
  static constexpr std::chrono::seconds kStopTimeout{15};

  static std::unique_ptr<ServerProcess> start(const std::vector<std::string>& extra_args = {},
                                              const std::string& model_dir = test_model_dir()) {
    std::unique_ptr<ServerProcess> server(new ServerProcess());
    // Port 0 everywhere: the kernel picks free ports, read back from the log.
    std::vector<std::string> argv = {server_binary(), "--model", model_dir};
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    server->pid_ = detail::spawn(argv, server->log_path(), detail::openmp_env());
    server->wait_for_ports();
    return server;
  }

  ~ServerProcess() {
    stop();
    if (::testing::Test::HasFailure()) print_log_tail();
  }

  // The end of the server's log on stderr, to read next to a failure.
  void print_log_tail(size_t keep = 6000) const {
    const std::string text = log();
    std::cerr << "---- infini-server log (pid " << pid_ << ", last " << keep << " bytes) ----\n"
              << (text.size() > keep ? text.substr(text.size() - keep) : text)
              << "\n---- end of log ----\n";
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, bounded wait, SIGKILL; returns the exit code (-1 if killed or
  // already stopped). Safe to call twice.
  int stop() {
    if (pid_ <= 0 || exit_code_) return exit_code_.value_or(-1);
    ::kill(-pid_, SIGTERM);
    auto status = detail::wait_for(pid_, kStopTimeout);
    if (!status) {
      std::cerr << "infini-server pid " << pid_ << " ignored SIGTERM for " << kStopTimeout.count()
                << " s; sending SIGKILL\n";
      ::kill(-pid_, SIGKILL);
      status = detail::wait_for(pid_, 5s);
    }
    exit_code_ = status ? detail::exit_code_of(*status) : -1;
    return *exit_code_;
  }

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  std::string log() const { return read_file(log_path()); }
  fs::path log_path() const { return dir_.path() / "server.log"; }

  // A new channel each call (its own connection), 64 MiB messages.
  std::shared_ptr<grpc::Channel> channel() const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    // A distinct argument keeps gRPC from sharing one subchannel between channels.
    args.SetInt("infini.e2e.channel", next_channel_id());
    return grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(), args);
  }

  // Resident set size of the server now, from /proc/<pid>/status.
  int64_t rss_bytes() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // kB
    }
    return -1;
  }

 private:
  ServerProcess() : dir_("infini-e2e-server") {}

  static int next_channel_id() {
    static std::atomic<int> id{0};
    return ++id;
  }

  void wait_for_ports() {
    static const std::regex grpc_line(R"(listening on \S+ \(port (\d+)\))");
    static const std::regex metrics_line(R"(metrics on http://\S+ \(port (\d+)\))");
    const auto end = std::chrono::steady_clock::now() + kStartTimeout;
    while (true) {
      const std::string text = log();
      std::smatch m;
      if (std::regex_search(text, m, grpc_line)) grpc_port_ = std::stoi(m[1]);
      if (std::regex_search(text, m, metrics_line)) metrics_port_ = std::stoi(m[1]);
      if (grpc_port_ > 0 && metrics_port_ > 0) return;
      if (auto status = detail::wait_for(pid_, 0ms)) {
        exit_code_ = detail::exit_code_of(*status);
        throw std::runtime_error("infini-server exited with " + std::to_string(*exit_code_) +
                                 " before listening; log:\n" + log());
      }
      if (std::chrono::steady_clock::now() >= end) {
        throw std::runtime_error("infini-server did not log its ports within " +
                                 std::to_string(kStartTimeout.count()) + " s; log:\n" + text);
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  TempDir dir_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::optional<int> exit_code_;
};

// A server with default flags shared by the tests of one suite (started
// before the first, stopped after the last), for tests that make their own
// sessions and need no particular flags: saves a start and a stop per test.
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      server_ = ServerProcess::start().release();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << start_error_; }
  void TearDown() override {
    if (HasFailure() && server_ != nullptr) server_->print_log_tail();
  }
  static ServerProcess& server() { return *server_; }

 private:
  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
};

// ---- HTTP ----

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// GET http://127.0.0.1:port/path over a plain socket (HTTP/1.0: the server
// closes the connection after the response). Throws on socket errors.
inline HttpResponse http_get(int port, const std::string& path = "/metrics",
                             std::chrono::seconds timeout = 10s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  HttpResponse response;
  const size_t split = raw.find("\r\n\r\n");
  if (split == std::string::npos || raw.rfind("HTTP/1.", 0) != 0) {
    throw std::runtime_error("not an HTTP response: " + raw.substr(0, 200));
  }
  response.headers = raw.substr(0, split);
  response.body = raw.substr(split + 4);
  response.status = std::stoi(raw.substr(raw.find(' ') + 1, 3));
  return response;
}

// ---- Prometheus text format ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0.0;
};

// The samples of an exposition (comments skipped). Label values may hold
// escaped quotes; timestamps after the value are ignored.
inline std::vector<Sample> parse_metrics(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = line.find_first_of("{ ");
    if (i == std::string::npos) continue;
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;  // past ="
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // past }
    }
    std::istringstream rest(line.substr(i));
    std::string value;
    rest >> value;
    if (value == "+Inf")
      s.value = INFINITY;
    else if (value == "-Inf")
      s.value = -INFINITY;
    else if (value == "NaN")
      s.value = NAN;
    else
      s.value = std::stod(value);
    samples.push_back(std::move(s));
  }
  return samples;
}

// The value of the sample `name` whose labels are exactly `labels`; 0 when
// the series does not exist yet (a labelled counter appears on first use).
inline double metric_value(const std::vector<Sample>& samples, const std::string& name,
                           const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return 0.0;
}

inline bool has_metric(const std::vector<Sample>& samples, const std::string& name) {
  for (const auto& s : samples) {
    if (s.name == name) return true;
  }
  return false;
}

inline std::vector<Sample> scrape(const ServerProcess& server) {
  const HttpResponse r = http_get(server.metrics_port(), "/metrics");
  if (r.status != 200) {
    throw std::runtime_error("GET /metrics answered " + std::to_string(r.status));
  }
  return parse_metrics(r.body);
}

// ---- documents ----

// tests/data/text/english.txt (about 35 KB of English prose).
inline const std::string& english_text() {
  static const std::string text =
      read_file(std::string(INFINI_TEST_DATA_DIR) + "/text/english.txt");
  return text;
}

// Non-ASCII text of 2-, 3- and 4-byte characters, to be cut inside characters.
inline const std::string& unicode_text() {
  static const std::string text =
      "\nGr\xC3\xB6\xC3\x9F"
      "e, na\xC3\xAF"
      "ve caf\xC3\xA9 \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC"
      "\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88, "
      "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xF0\x9F\x8E\x89 "
      "\xD0\xA0\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xE2\x82\xAC"
      "42.\n";
  return text;
}

// english.txt with non-ASCII paragraphs mixed in, repeated to at least
// `bytes` bytes; `variant` rotates the text so documents differ.
inline std::string make_document(size_t bytes, size_t variant = 0) {
  const std::string& base = english_text();
  const size_t rotate = (variant * 7919) % base.size();
  std::string rotated = base.substr(rotate) + base.substr(0, rotate);
  std::string doc = "Document " + std::to_string(variant) + ".\n";
  size_t pos = 0;
  while (doc.size() < bytes) {
    // Paragraph-sized pieces with a Unicode paragraph between them.
    const size_t n = std::min<size_t>(4000, rotated.size() - pos);
    doc += rotated.substr(pos, n);
    doc += unicode_text();
    pos = (pos + n) % rotated.size();
  }
  return doc;
}

// ---- raw RPCs ----

// A stop string no model output contains: generation runs to max_tokens (or
// end-of-text) instead of stopping at the template's "\n".
inline constexpr const char* kNeverStop = "<never-occurs>";

inline v1::GenerationParams greedy_params(int32_t max_tokens) {
  v1::GenerationParams p;
  p.set_max_tokens(max_tokens);
  p.set_temperature(0.0f);
  p.add_stop(kNeverStop);
  return p;
}

inline std::unique_ptr<v1::LongContext::Stub> new_stub(const ServerProcess& server) {
  return v1::LongContext::NewStub(server.channel());
}

// Ingest messages: the first names `session_id` (empty: create), each
// carries one chunk as text_bytes, the last asks for a flush if `flush`.
inline std::vector<v1::IngestRequest> text_messages(const std::string& session_id,
                                                    const std::vector<std::string>& chunks,
                                                    bool flush) {
  std::vector<v1::IngestRequest> messages;
  for (const auto& chunk : chunks) {
    v1::IngestRequest m;
    m.set_text_bytes(chunk);
    messages.push_back(std::move(m));
  }
  if (messages.empty()) messages.emplace_back();
  if (session_id.empty())
    messages.front().mutable_create();
  else
    messages.front().set_session_id(session_id);
  if (flush) messages.back().set_flush(true);
  return messages;
}

struct IngestCall {
  grpc::Status status;
  v1::IngestResponse response;
  int written = 0;  // messages the stream accepted
};

inline IngestCall ingest_raw(v1::LongContext::Stub& stub,
                             const std::vector<v1::IngestRequest>& messages,
                             std::chrono::milliseconds timeout = 120s) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  IngestCall call;
  auto writer = stub.Ingest(&context, &call.response);
  for (const auto& m : messages) {
    if (!writer->Write(m)) break;  // the server ended the call; Finish says why
    ++call.written;
  }
  writer->WritesDone();
  call.status = writer->Finish();
  return call;
}

// Splits `text` into chunks of random sizes in [1, max_chunk] (cuts land
// anywhere, inside UTF-8 characters too).
inline std::vector<std::string> random_chunks(const std::string& text, size_t max_chunk,
                                              uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> size(1, max_chunk);
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(size(rng), text.size() - pos);
    chunks.push_back(text.substr(pos, n));
    pos += n;
  }
  return chunks;
}

inline std::vector<std::string> fixed_chunks(const std::string& text, size_t chunk) {
  std::vector<std::string> chunks;
  for (size_t pos = 0; pos < text.size(); pos += chunk) chunks.push_back(text.substr(pos, chunk));
  return chunks;
}

struct Generation {
  grpc::Status status;
  std::string text;        // all deltas
  int text_messages = 0;   // messages before the final one
  bool has_final = false;  // a message with a finish reason arrived
  v1::GenerateResponse final_message;
  double seconds = 0.0;
};

inline Generation read_generation(grpc::ClientContext& context,
                                  grpc::ClientReader<v1::GenerateResponse>& reader,
                                  std::chrono::steady_clock::time_point start) {
  (void)context;
  Generation g;
  v1::GenerateResponse m;
  while (reader.Read(&m)) {
    g.text += m.text();
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      g.has_final = true;
      g.final_message = m;
    } else {
      ++g.text_messages;
    }
  }
  g.status = reader.Finish();
  g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return g;
}

inline Generation ask_raw(v1::LongContext::Stub& stub, const std::string& session_id,
                          const std::string& question, const v1::GenerationParams& params,
                          std::chrono::milliseconds timeout = 60s) {
  grpc::ClientContext context;
  const auto start = std::chrono::steady_clock::now();
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::AskRequest request;
  request.set_session_id(session_id);
  request.set_question(question);
  *request.mutable_params() = params;
  auto reader = stub.Ask(&context, request);
  return read_generation(context, *reader, start);
}

inline Generation summarize_raw(v1::LongContext::Stub& stub, const std::string& session_id,
                                const v1::GenerationParams& params,
                                std::chrono::milliseconds timeout = 60s) {
  grpc::ClientContext context;
  const auto start = std::chrono::steady_clock::now();
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::SummarizeRequest request;
  request.set_session_id(session_id);
  *request.mutable_params() = params;
  auto reader = stub.Summarize(&context, request);
  return read_generation(context, *reader, start);
}

inline grpc::Status get_session(v1::LongContext::Stub& stub, const std::string& id,
                                v1::Session* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::GetSessionRequest request;
  request.set_session_id(id);
  return stub.GetSession(&context, request, out);
}

// "code: message" for assertion output.
inline std::string describe(const grpc::Status& status) {
  return std::string(client::status_code_name(status.error_code())) + ": " + status.error_message();
}

}  // namespace infini::e2e
