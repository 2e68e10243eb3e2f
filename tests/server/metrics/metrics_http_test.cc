#include "server/metrics/metrics_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace infini::server {
namespace {

struct HttpResponse {
  int status = 0;
  std::string headers;  // the status line and headers, as received
  std::string body;
};

// One HTTP/1.1 request over a plain TCP socket, read until the server closes.
HttpResponse http_request(int port, const std::string& method, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval timeout{5, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
  }
  const std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    close(fd);
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) raw.append(buffer, n);
  close(fd);

  HttpResponse response;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || !raw.starts_with("HTTP/1.1 ")) {
    throw std::runtime_error("malformed response: " + raw);
  }
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, end);
  response.body = raw.substr(end + 4);
  return response;
}

TEST(MetricsHttpServerTest, ServesMetricsOnAFreePort) {
  const std::string text = "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n";
  std::atomic<int> renders = 0;
  MetricsHttpServer server("127.0.0.1:0", [&] {
    ++renders;
    return text;
  });
  ASSERT_GT(server.port(), 0);

  HttpResponse response = http_request(server.port(), "GET", "/metrics");
  EXPECT_EQ(response.status, 200) << response.headers;
  EXPECT_NE(response.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << response.headers;
  EXPECT_NE(response.headers.find("Content-Length: " + std::to_string(text.size())),
            std::string::npos)
      << response.headers;
  EXPECT_EQ(response.body, text);
  EXPECT_EQ(renders.load(), 1);

  // Query strings are fine; HEAD gets headers only.
  EXPECT_EQ(http_request(server.port(), "GET", "/metrics?name[]=x").status, 200);
  HttpResponse head = http_request(server.port(), "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST(MetricsHttpServerTest, HealthzNotFoundAndMethodNotAllowed) {
  MetricsHttpServer server("127.0.0.1:0", [] { return std::string("m 1\n"); });

  HttpResponse health = http_request(server.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");

  EXPECT_EQ(http_request(server.port(), "GET", "/").status, 404);
  EXPECT_EQ(http_request(server.port(), "GET", "/nope").status, 404);
  EXPECT_EQ(http_request(server.port(), "GET", "/metrics/extra").status, 404);
  EXPECT_EQ(http_request(server.port(), "GET", "/metricsx").status, 404);

  HttpResponse post = http_request(server.port(), "POST", "/metrics");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.headers.find("Allow: GET, HEAD"), std::string::npos) << post.headers;
  EXPECT_EQ(http_request(server.port(), "DELETE", "/metrics").status, 405);
}

TEST(MetricsHttpServerTest, RenderFailureIsA500NotACrash) {
  MetricsHttpServer server("127.0.0.1:0",
                           []() -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(http_request(server.port(), "GET", "/metrics").status, 500);
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200);
}

TEST(MetricsHttpServerTest, SecondServerOnTheSamePortFailsClearly) {
  MetricsHttpServer first("127.0.0.1:0", [] { return std::string(); });
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  try {
    MetricsHttpServer second(address, [] { return std::string(); });
    FAIL() << "a second server started on " << address;
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(address), std::string::npos) << message;
    EXPECT_NE(message.find("cannot listen"), std::string::npos) << message;
    EXPECT_NE(message.find("Address already in use"), std::string::npos) << message;
  }
  // The first one still serves.
  EXPECT_EQ(http_request(first.port(), "GET", "/healthz").status, 200);
}

TEST(MetricsHttpServerTest, BadAddressFailsClearly) {
  for (const std::string address : {"127.0.0.1:notaport", "999.1.1.1:9464", "127.0.0.1:70000",
                                    "localhost:9464", "[::1]9464", "127.0.0.1:", ""}) {
    try {
      MetricsHttpServer server(address, [] { return std::string(); });
      ADD_FAILURE() << "started on bad address " << address << " (port " << server.port() << ")";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(address), std::string::npos) << e.what();
    }
  }
}

TEST(MetricsHttpServerTest, StopsInTheDestructor) {
  int port = 0;
  {
    MetricsHttpServer server("127.0.0.1:0", [] { return std::string(); });
    port = server.port();
    EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);
  }
  EXPECT_THROW(http_request(port, "GET", "/healthz"), std::runtime_error);
}

}  // namespace
}  // namespace infini::server
