#include "livedub/http_server.hpp"

#include <thread>

#include <prometheus/text_serializer.h>

#include "livedub/logging.hpp"

namespace livedub {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
  send_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

HttpService::HttpService(std::string service_name, std::shared_ptr<prometheus::Registry> registry,
                         std::size_t max_body_bytes)
    : service_name_(std::move(service_name)), registry_(std::move(registry)) {
  requests_ = &prometheus::BuildCounter()
                   .Name("livedub_http_requests_total")
                   .Help("HTTP requests served, by route and status")
                   .Register(*registry_);
  server_.set_payload_max_length(max_body_bytes);
  server_.set_read_timeout(30, 0);
  server_.set_write_timeout(30, 0);

  server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json body = {{"status", "ok"}, {"service", service_name_}};
    if (health_) body.update(health_());
    send_json(res, body["status"] == "ok" ? 200 : 503, body);
  });
  server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus::TextSerializer().Serialize(registry_->Collect()),
                    "text/plain; version=0.0.4");
  });
  server_.set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                   std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_error({}, "unhandled error on {} {}: {}", req.method, req.path, what);
    send_error(res, 500, "internal_error", what);
  });
  // Fills in a JSON body for statuses produced without one (404, 413 from httplib itself...).
  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string code = res.status == 400   ? "bad_request"
                       : res.status == 404 ? "not_found"
                       : res.status == 413 ? "payload_too_large"
                       : res.status == 405 ? "method_not_allowed"
                                           : "http_error";
    send_error(res, res.status, code,
               code == "not_found" ? "no route for " + req.method + " " + req.path
                                   : "request rejected with HTTP " + std::to_string(res.status));
  });
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    // Label by matched route prefix, not raw path: raw paths would explode label cardinality.
    std::string route = req.matches.empty() ? "unmatched" : req.path;
    if (route.size() > 64) route = route.substr(0, 64);
    requests_->Add({{"route", res.status == 404 ? "unmatched" : route},
                    {"status", std::to_string(res.status)}})
        .Increment();
    log_debug({}, "{} {} -> {}", req.method, req.path, res.status);
  });
}

HttpService::~HttpService() { stop(); }

int HttpService::bind(const std::string& host, int port) {
  int bound = port == 0 ? server_.bind_to_any_port(host.c_str())
                        : (server_.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound <= 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                             " (port in use or address unavailable)");
  }
  return bound;
}

// httplib's stop() does nothing until listen_after_bind() has marked the server running, so a
// stop() racing with the start of serve() would be lost and serve() would never return. Each
// side publishes its flag before reading the other's: at least one of them sees the other.
void HttpService::serve() {
  serving_ = true;
  if (!stop_requested_) server_.listen_after_bind();
  serving_ = false;
}

void HttpService::stop() {
  stop_requested_ = true;
  while (serving_ && !server_.is_running()) std::this_thread::yield();
  server_.stop();
}

}  // namespace livedub
