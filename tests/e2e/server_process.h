// End-to-end test support: the real infini-server binary in a child process
// on kernel-chosen ports, a small random checkpoint made once per test
// binary, and running other commands with a timeout. /metrics helpers are in
// metrics_client.h, documents and raw RPCs in rpc_helpers.h; e2e_support.h
// brings all three.
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
    static const std::regex metrics_line(R"(metrics on https?://\S+ \(port (\d+)\))");
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

}  // namespace infini::e2e
