#include "server/metrics/metrics_http.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "server/metrics/civetweb_openssl.h"
#include "server/security/tls_credentials.h"

namespace infini::server {

// Owned by the server, not the constructor's frame: civetweb logs through it
// for as long as it runs (a failed TLS handshake, say), not only while starting.
struct MetricsHttpServer::CallbackState {
  std::mutex mutex;
  bool starting = true;
  std::vector<std::string> start_log;  // civetweb's messages while starting
  const TlsIdentity* tls = nullptr;    // only read while starting
  std::string tls_error;
};

namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

std::shared_ptr<spdlog::logger> server_logger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("server");
  return logger ? logger : spdlog::default_logger();
}

// Writes a whole response; `status` is also the handler's return value, which
// tells civetweb the request was handled.
int send_response(mg_connection* conn, int status, const char* reason, const char* content_type,
                  std::string_view body, bool head_only = false,
                  const char* extra_header = nullptr) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "%s%s"
            "Connection: close\r\n\r\n",
            status, reason, content_type, body.size(), extra_header ? extra_header : "",
            extra_header ? "\r\n" : "");
  if (!head_only && !body.empty()) mg_write(conn, body.data(), body.size());
  return status;
}

bool is_get_or_head(const mg_request_info* info, bool* head) {
  *head = std::strcmp(info->request_method, "HEAD") == 0;
  return *head || std::strcmp(info->request_method, "GET") == 0;
}

// civetweb routes "/metrics/x" to the "/metrics" handler too; only the exact
// path is ours.
bool is_exact(const mg_request_info* info, const char* path) {
  return info->local_uri != nullptr && std::strcmp(info->local_uri, path) == 0;
}

// civetweb reads "999.1.1.1:9464" as some other address rather than failing,
// so the address is checked here first: "PORT", "IPv4:PORT" or "[IPv6]:PORT".
// Returns the reason it is bad, or "" when it is good.
std::string address_problem(const std::string& address) {
  std::string host;
  std::string port = address;
  if (address.starts_with("[")) {
    size_t close = address.find("]:");
    if (close == std::string::npos) return "expected [IPv6]:PORT";
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    in6_addr ip6{};
    if (inet_pton(AF_INET6, host.c_str(), &ip6) != 1)
      return "'" + host + "' is not an IPv6 address";
    constexpr unsigned kCivetwebIpv6 = 8;  // mg_check_feature bit
    if (mg_check_feature(kCivetwebIpv6) == 0) return "this civetweb was built without IPv6";
  } else if (size_t colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    in_addr ip4{};
    if (inet_pton(AF_INET, host.c_str(), &ip4) != 1) {
      return "'" + host + "' is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)";
    }
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return "'" + port + "' is not a port number (0..65535, 0 picks a free one)";
  }
  return "";
}

int log_civetweb_message(const mg_connection* conn, const char* message) {
  server_logger()->debug("civetweb: {}", message);
  // While starting, keep the messages: they hold the reason (errno text) that
  // mg_start2's error text leaves out.
  const mg_context* context = conn != nullptr ? mg_get_context(conn) : nullptr;
  void* user_data = context != nullptr ? mg_get_user_data(context) : nullptr;
  if (user_data != nullptr) {
    auto* state = static_cast<MetricsHttpServer::CallbackState*>(user_data);
    std::lock_guard lock(state->mutex);
    if (state->starting) state->start_log.push_back(message);
  }
  return 1;  // handled: keep civetweb from printing to stderr
}

// civetweb's init_ssl: our certificate and key into its SSL_CTX (1: done,
// civetweb loads no files itself; -1: fail the start).
int install_metrics_tls(void* ssl_ctx, void* user_data) {
  auto* state = static_cast<MetricsHttpServer::CallbackState*>(user_data);
  std::lock_guard lock(state->mutex);
  if (state->tls == nullptr) return 0;
  state->tls_error = install_tls_identity(ssl_ctx, *state->tls);
  return state->tls_error.empty() ? 1 : -1;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(const std::string& address, RenderFn render,
                                     const TlsIdentity* tls)
    : address_(address),
      render_(std::move(render)),
      callback_state_(std::make_unique<CallbackState>()) {
  if (std::string problem = address_problem(address_); !problem.empty()) {
    throw std::runtime_error("metrics: cannot listen on '" + address_ + "': " + problem);
  }
  // civetweb's "s" suffix makes the port https only.
  const std::string listening_ports = tls != nullptr ? address_ + "s" : address_;
  if (tls != nullptr) load_civetweb_openssl();
  callback_state_->tls = tls;
  const char* options[] = {
      "listening_ports", listening_ports.c_str(), "num_threads", "2",    "request_timeout_ms",
      "10000",           "enable_keep_alive",     "no",          nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_civetweb_message;
  // Only for https: plain http needs nothing of OpenSSL from civetweb.
  if (tls != nullptr) callbacks.init_ssl = install_metrics_tls;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = callback_state_.get();
  init.configuration_options = options;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  context_ = mg_start2(&init, &error);
  std::vector<std::string> start_log;
  {
    std::lock_guard lock(callback_state_->mutex);
    callback_state_->starting = false;
    callback_state_->tls = nullptr;  // the caller's; not kept past the constructor
    start_log.swap(callback_state_->start_log);
    if (context_ == nullptr && !callback_state_->tls_error.empty()) {
      start_log.insert(start_log.begin(), "TLS: " + callback_state_->tls_error);
    }
  }
  if (context_ == nullptr) {
    // The logged messages carry the errno text ("cannot bind to ...: 98
    // (Address already in use)"); the error text is only the summary.
    std::string reason;
    for (const std::string& message : start_log) {
      if (message == error_text) continue;
      reason += (reason.empty() ? "" : "; ") + message;
    }
    if (reason.empty()) reason = error_text[0] != '\0' ? error_text : "civetweb failed to start";
    throw std::runtime_error("metrics: cannot listen on '" + address_ + "': " + reason);
  }

  mg_server_port ports[4] = {};
  int count = mg_get_server_ports(context_, 4, ports);
  if (count < 1) {
    mg_stop(context_);
    context_ = nullptr;
    throw std::runtime_error("metrics: cannot listen on '" + address_ +
                             "': civetweb reports no bound port");
  }
  port_ = ports[0].port;

  mg_set_request_handler(context_, "/metrics", &MetricsHttpServer::handle_metrics, this);
  mg_set_request_handler(context_, "/healthz", &MetricsHttpServer::handle_healthz, this);
  // Everything else, so unknown paths get a plain 404 rather than civetweb's
  // file serving (no document_root is configured).
  mg_set_request_handler(context_, "**", &MetricsHttpServer::handle_not_found, this);
  server_logger()->debug("metrics: serving /metrics on {} (port {})", address_, port_);
}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int MetricsHttpServer::handle_metrics(mg_connection* conn, void* self) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (!is_exact(info, "/metrics")) return handle_not_found(conn, self);
  bool head = false;
  if (!is_get_or_head(info, &head)) {
    return send_response(conn, 405, "Method Not Allowed", kTextContentType, "method not allowed\n",
                         false, "Allow: GET, HEAD");
  }
  // No exception may cross into civetweb's C code.
  try {
    std::string body = static_cast<MetricsHttpServer*>(self)->render_();
    return send_response(conn, 200, "OK", kMetricsContentType, body, head);
  } catch (const std::exception& e) {
    server_logger()->error("metrics: render failed: {}", e.what());
  } catch (...) {
    server_logger()->error("metrics: render failed");
  }
  return send_response(conn, 500, "Internal Server Error", kTextContentType,
                       "metrics render failed\n");
}

int MetricsHttpServer::handle_healthz(mg_connection* conn, void* self) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (!is_exact(info, "/healthz")) return handle_not_found(conn, self);
  bool head = false;
  if (!is_get_or_head(info, &head)) {
    return send_response(conn, 405, "Method Not Allowed", kTextContentType, "method not allowed\n",
                         false, "Allow: GET, HEAD");
  }
  return send_response(conn, 200, "OK", kTextContentType, "ok", head);
}

int MetricsHttpServer::handle_not_found(mg_connection* conn, void*) {
  return send_response(conn, 404, "Not Found", kTextContentType, "not found\n");
}

}  // namespace infini::server
