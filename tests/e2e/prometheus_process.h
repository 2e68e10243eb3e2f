// A real Prometheus (Debian's /usr/bin/prometheus) in a child process for
// e2e tests: on 127.0.0.1 and a free port, its data in a temp dir, scraping
// the test's server with a copy of deploy/prometheus/prometheus.yml, and
// its HTTP API (/api/v1/query, query_range, targets, rules) as JSON.
//
// Like ServerProcess, everything is undone by destructors (killed, temp dir
// removed), so a failing ASSERT leaves nothing behind.
#pragma once

#include "tests/e2e/deploy_files.h"
#include "tests/e2e/metrics_client.h"
#include "tests/e2e/server_process.h"

namespace infini::e2e {

inline constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";

// A port free on 127.0.0.1 now (the kernel's choice for port 0). Another
// process may take it before the caller binds it; callers retry.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Percent-encoding for a query-string value (RFC 3986 unreserved kept).
inline std::string url_encode(const std::string& value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A copy of deploy/prometheus/prometheus.yml for a test, written to `dir`:
// scrape and evaluation every second, the `infini` job's targets replaced by
// 127.0.0.1:metrics_port, the other jobs and the Alertmanager section dropped
// (nothing to reach on loopback), and rule_files pointing at the alert rules
// by absolute path (a copy whose groups evaluate every second when a group
// sets its own interval). Throws when the file does not have an `infini` job.
inline fs::path write_test_prometheus_config(const fs::path& dir, int metrics_port) {
  YAML::Node config = YAML::LoadFile(prometheus_config_path().string());
  if (!config["global"]) config["global"] = YAML::Node(YAML::NodeType::Map);
  config["global"]["scrape_interval"] = "1s";
  config["global"]["scrape_timeout"] = "1s";
  config["global"]["evaluation_interval"] = "1s";
  config.remove("alerting");
  YAML::Node jobs(YAML::NodeType::Sequence);
  for (YAML::Node job : config["scrape_configs"]) {
    if (job["job_name"].as<std::string>("") != "infini") continue;
    if (job["scrape_interval"]) job["scrape_interval"] = "1s";
    if (job["scrape_timeout"]) job["scrape_timeout"] = "1s";
    YAML::Node target(YAML::NodeType::Map);
    target["targets"].push_back("127.0.0.1:" + std::to_string(metrics_port));
    const YAML::Node static_configs = job["static_configs"];  // const: reading adds nothing
    if (static_configs.IsSequence() && static_configs.size() > 0 && static_configs[0]["labels"]) {
      target["labels"] = YAML::Clone(static_configs[0]["labels"]);
    }
    job["static_configs"] = YAML::Node(YAML::NodeType::Sequence);
    job["static_configs"].push_back(target);
    jobs.push_back(job);
  }
  if (jobs.size() != 1) {
    throw std::runtime_error(prometheus_config_path().string() +
                             " has no scrape job named `infini` (or more than one)");
  }
  config["scrape_configs"] = jobs;

  YAML::Node alerts = YAML::LoadFile(alerts_path().string());
  bool own_interval = false;
  for (YAML::Node group : alerts["groups"]) {
    if (group["interval"]) {
      group["interval"] = "1s";
      own_interval = true;
    }
  }
  fs::path rules = fs::absolute(alerts_path());
  if (own_interval) {
    rules = dir / "alerts.yml";
    std::ofstream(rules) << yaml_text(alerts) << "\n";
  }
  config["rule_files"] = YAML::Node(YAML::NodeType::Sequence);
  config["rule_files"].push_back(rules.string());

  const fs::path path = dir / "prometheus.yml";
  std::ofstream(path) << yaml_text(config) << "\n";
  return path;
}

// /usr/bin/prometheus on 127.0.0.1:<free port> with `config_file`; start()
// returns once /-/ready answers 200 and throws (with Prometheus's log) when
// it does not. The destructor stops it.
class PrometheusProcess {
 public:
  static constexpr std::chrono::seconds kStartTimeout{30};

  static std::unique_ptr<PrometheusProcess> start(const fs::path& config_file) {
    if (!fs::exists(kPrometheusBinary)) {
      throw std::runtime_error(missing_tool_message(kPrometheusBinary, "prometheus"));
    }
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {  // the free port may be taken meanwhile
      std::unique_ptr<PrometheusProcess> p(new PrometheusProcess());
      p->port_ = free_port();
      const fs::path data = p->dir_.path() / "data";
      fs::create_directories(data);
      const std::vector<std::string> argv = {
          kPrometheusBinary, "--config.file=" + config_file.string(),
          "--storage.tsdb.path=" + data.string(),
          "--web.listen-address=127.0.0.1:" + std::to_string(p->port_), "--log.level=warn"};
      p->pid_ = detail::spawn(argv, p->log_path());
      if (p->wait_until_ready(last_error)) return p;
    }
    throw std::runtime_error(last_error);
  }

  ~PrometheusProcess() {
    stop();
    if (::testing::Test::HasFailure()) print_log_tail();
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  void stop() {
    if (pid_ <= 0 || stopped_) return;
    stopped_ = true;
    ::kill(-pid_, SIGTERM);
    if (!detail::wait_for(pid_, 10s)) {
      ::kill(-pid_, SIGKILL);
      detail::wait_for(pid_, 5s);
    }
  }

  void print_log_tail(size_t keep = 4000) const {
    const std::string text = log();
    std::cerr << "---- prometheus log (pid " << pid_ << ", last " << keep << " bytes) ----\n"
              << (text.size() > keep ? text.substr(text.size() - keep) : text)
              << "\n---- end of log ----\n";
  }

  int port() const { return port_; }
  std::string log() const { return read_file(log_path()); }
  fs::path log_path() const { return dir_.path() / "prometheus.log"; }

  // GET path; the body parsed as JSON (throws on a non-JSON body).
  Json get_json(const std::string& path) const {
    const HttpResponse r = http_get(port_, path, 20s);
    try {
      return Json::parse(r.body);
    } catch (const std::exception&) {
      throw std::runtime_error("GET " + path + " answered " + std::to_string(r.status) +
                               " with a body that is not JSON: " + r.body.substr(0, 300));
    }
  }

  // /api/v1/query at `time` (0: now).
  Json query(const std::string& expr, double time = 0.0) const {
    std::string path = "/api/v1/query?query=" + url_encode(expr);
    if (time > 0.0) path += "&time=" + format_time(time);
    return get_json(path);
  }

  Json query_range(const std::string& expr, double start, double end, double step) const {
    return get_json("/api/v1/query_range?query=" + url_encode(expr) + "&start=" +
                    format_time(start) + "&end=" + format_time(end) + "&step=" + format_time(step));
  }

 private:
  PrometheusProcess() : dir_("infini-e2e-prometheus") {}

  static std::string format_time(double t) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", t);
    return buf;
  }

  bool wait_until_ready(std::string& error) {
    const auto end = std::chrono::steady_clock::now() + kStartTimeout;
    while (true) {
      try {
        if (http_get(port_, "/-/ready", 2s).status == 200) return true;
      } catch (const std::exception&) {
        // not listening yet
      }
      if (auto status = detail::wait_for(pid_, 0ms)) {
        stopped_ = true;
        error = "prometheus exited with " + std::to_string(detail::exit_code_of(*status)) +
                " before it was ready; log:\n" + log();
        return false;
      }
      if (std::chrono::steady_clock::now() >= end) {
        error = "prometheus was not ready within " + std::to_string(kStartTimeout.count()) +
                " s; log:\n" + log();
        stop();
        return false;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace infini::e2e
