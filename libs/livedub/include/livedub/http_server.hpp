#pragma once
// The HTTP server every livedub service runs: /healthz, Prometheus /metrics, JSON errors
// (never an HTML page or a dropped connection), request metrics.
//
// Event-driven (Boost.Beast on one Asio I/O thread): an open connection costs a socket and a
// buffer, never a thread, so idle keep-alive connections and slow clients cannot starve new
// requests. cpp-httplib, used before, gave each open connection a thread; 18 idle connections
// to the STS service delayed a fresh /healthz by 5 s and 192 stalled it for > 8 s.
// Every phase of a request has its own deadline (HttpLimits). Handlers run either inline on
// the I/O thread (quick, non-blocking: health, metrics, status) or on a bounded pool; a
// request that finds the pool and its queue full is answered 503 + Retry-After at once.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/registry.h>

namespace livedub {

class EnvConfig;

// Per-client limits. Defaults are the LIVEDUB_HTTP_* defaults (load_http_limits).
struct HttpLimits {
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  // From the first byte of a request to its last header line (slow-header clients).
  std::chrono::milliseconds header_timeout{5000};
  // For the whole body once the headers are in (slow-body clients).
  std::chrono::milliseconds body_timeout{10000};
  // A keep-alive connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{30000};
  // For writing a response.
  std::chrono::milliseconds write_timeout{10000};
  // Open connections beyond this are answered 503 and closed.
  std::size_t max_connections = 2000;
  // The pool for handlers that may block, and how many requests may wait for it.
  int handler_threads = 4;
  std::size_t handler_queue = 64;
};

// A request path longer than this is answered 414 before any route is matched: libstdc++'s
// std::regex matches recursively, and a 7,000-character path overflowed the stack of an
// ASan-built orchestrator (a one-request crash). No route of any service comes near it.
inline constexpr std::size_t kMaxPathBytes = 1024;

// LIVEDUB_HTTP_HEADER_TIMEOUT_MS, _BODY_TIMEOUT_MS, _IDLE_TIMEOUT_MS, _MAX_CONNECTIONS;
// throws ConfigError naming the variable. Body size and handler pool stay the service's own.
HttpLimits load_http_limits(const EnvConfig& env, HttpLimits defaults = {});

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path + query
  std::string path;    // percent-decoding is left to the handler
  std::string query;   // after '?', raw
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::vector<std::string> matches;  // the route pattern's capture groups, [0] = whole path
  // When the headers were in: deadlines the client sends count from here, not from when a
  // handler thread got to the request.
  std::chrono::steady_clock::time_point arrived;

  std::string header(const std::string& lower_case_name) const;
  bool has_header(const std::string& lower_case_name) const;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after this response

  void set_header(std::string name, std::string value);
};

void send_json(HttpReply& res, int status, const nlohmann::json& body);
// Error body: {"error": {"code": "...", "message": "..."}}
void send_error(HttpReply& res, int status, const std::string& code, const std::string& message);

class HttpService {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpReply&)>;
  // Runs once a request's headers are in, before its body is read: set the reply and return
  // false to refuse it (the body is then never read and the connection closes).
  using Admission = std::function<bool(const HttpRequest&, HttpReply&)>;
  enum class Run { inline_on_io_thread, on_pool };

  HttpService(std::string service_name, std::shared_ptr<prometheus::Registry> registry,
              HttpLimits limits = {});
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // `pattern` is a regular expression for the whole path. A path that matches some route but
  // not for this method gets 405 with an Allow header. Register before serve().
  void route(const std::string& method, const std::string& pattern, Handler handler,
             Run run = Run::on_pool);
  void set_admission(Admission admission);
  prometheus::Registry& registry();
  const HttpLimits& limits() const;
  // Extra fields for /healthz; returning {"status": "..."} other than "ok" makes it 503.
  // Runs on the I/O thread: must not block.
  void set_health(std::function<nlohmann::json()> health);

  // Binds host:port (port 0 picks a free one) and returns the bound port; throws on failure.
  int bind(const std::string& host, int port);
  void serve();  // blocks until stop(); returns at once if stop() came first
  void stop();   // final: callable from any thread, before, during or after serve()

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace livedub
