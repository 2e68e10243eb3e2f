// GET /metrics (Prometheus text format) and GET /healthz over civetweb.
#pragma once

#include <functional>
#include <memory>
#include <string>

struct mg_context;
struct mg_connection;

namespace infini::server {

struct TlsIdentity;

class MetricsHttpServer {
 public:
  using RenderFn = std::function<std::string()>;

  // Starts listening on `address`: "127.0.0.1:9464", "0.0.0.0:9464", "9464"
  // (all interfaces), "[::1]:9464" where civetweb has IPv6; port 0 picks a
  // free port, see port(). Host names are rejected, not resolved. `render` is called
  // on civetweb's threads, possibly two at once. Throws std::runtime_error
  // naming the address and civetweb's reason when it cannot listen.
  // With `tls` (read only while starting) it serves https only: plain http
  // on that port fails.
  MetricsHttpServer(const std::string& address, RenderFn render, const TlsIdentity* tls = nullptr);
  ~MetricsHttpServer();  // stops listening and joins civetweb's threads
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port actually bound (the chosen one when started with port 0).
  int port() const { return port_; }
  const std::string& address() const { return address_; }

  // What civetweb's C callbacks reach through its user_data: messages kept
  // while starting, and the TLS identity its init_ssl callback installs.
  struct CallbackState;

 private:
  static int handle_metrics(mg_connection* conn, void* self);
  static int handle_healthz(mg_connection* conn, void* self);
  static int handle_not_found(mg_connection* conn, void* self);

  std::string address_;
  RenderFn render_;
  std::unique_ptr<CallbackState> callback_state_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace infini::server
