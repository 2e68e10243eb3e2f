// /metrics from an e2e test: a plain-socket HTTP GET and a parser of the
// Prometheus text format, so tests read counters as numbers.
#pragma once

#include "tests/e2e/server_process.h"

namespace infini::e2e {

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

}  // namespace infini::e2e
