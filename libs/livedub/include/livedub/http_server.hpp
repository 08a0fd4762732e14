#pragma once
// cpp-httplib server with what every livedub service exposes: /healthz, Prometheus /metrics,
// JSON errors (never an HTML page or a dropped connection), request metrics.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace livedub {

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// Error body: {"error": {"code": "...", "message": "..."}}
void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message);

class HttpService {
 public:
  HttpService(std::string service_name, std::shared_ptr<prometheus::Registry> registry,
              std::size_t max_body_bytes = 8 * 1024 * 1024);
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  httplib::Server& server() { return server_; }
  prometheus::Registry& registry() { return *registry_; }
  // Extra fields for /healthz; returning {"status": "..."} other than "ok" makes it 503.
  void set_health(std::function<nlohmann::json()> health) { health_ = std::move(health); }

  // Binds host:port (port 0 picks a free one) and returns the bound port; throws on failure.
  int bind(const std::string& host, int port);
  void serve();  // blocks until stop(); returns at once if stop() came first
  void stop();   // final: callable from any thread, before, during or after serve()

 private:
  std::string service_name_;
  std::shared_ptr<prometheus::Registry> registry_;
  httplib::Server server_;
  std::function<nlohmann::json()> health_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stop_requested_{false};
};

}  // namespace livedub
