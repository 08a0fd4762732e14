#include "livedub/http_server.hpp"

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/http_client.hpp"

namespace livedub {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Serves `http` on a background thread for the lifetime of the fixture.
class RunningService {
 public:
  explicit RunningService(HttpService& http) : http_(http) {
    port_ = http_.bind("127.0.0.1", 0);
    serving_ = std::async(std::launch::async, [this] { http_.serve(); });
  }
  ~RunningService() {
    http_.stop();
    serving_.wait();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  HttpService& http_;
  int port_ = 0;
  std::future<void> serving_;
};

std::string error_code(const HttpResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<not a JSON error: " + response.body + ">";
  return body["error"]["code"].get<std::string>();
}

TEST(HttpService, HealthMetricsAndJsonErrors) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  http.server().Get("/boom", [](const httplib::Request&, httplib::Response&) {
    throw std::runtime_error("kaboom");
  });
  RunningService running(http);
  HttpClient client;

  auto health = client.get(running.url("/healthz"), 5s);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["service"], "test-service");

  auto missing = client.get(running.url("/nope"), 5s);
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.content_type, HasSubstr("application/json"));
  EXPECT_EQ(error_code(missing), "not_found");

  auto boom = client.get(running.url("/boom"), 5s);
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(error_code(boom), "internal_error");

  auto metrics = client.get(running.url("/metrics"), 5s);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("livedub_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
}

TEST(HttpService, UnhealthyStatusIs503) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  http.set_health([] { return nlohmann::json{{"status", "degraded"}, {"reason", "no engine"}}; });
  RunningService running(http);
  HttpClient client;
  auto health = client.get(running.url("/healthz"), 5s);
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(nlohmann::json::parse(health.body)["reason"], "no engine");
}

TEST(HttpService, OversizedBodyIs413Json) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), 1024);
  http.server().Post("/upload", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"ok", true}});
  });
  RunningService running(http);
  HttpClient client;
  auto response = client.post(running.url("/upload"), std::string(4096, 'x'), "text/plain", 5s);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(error_code(response), "payload_too_large");
}

// httplib ignores stop() until its listen loop has started; HttpService must not lose it.
TEST(HttpService, StopBeforeOrWhileServingStartsNeverHangs) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    HttpService http("test-service", std::make_shared<prometheus::Registry>());
    http.bind("127.0.0.1", 0);
    if (attempt == 0) http.stop();  // strictly before serve()
    auto serving = std::async(std::launch::async, [&] { http.serve(); });
    http.stop();
    if (serving.wait_for(5s) != std::future_status::ready) {
      http.server().stop();  // rescue the thread so the failure is reported, not a hang
      serving.wait();
      FAIL() << "serve() missed stop() on attempt " << attempt;
    }
  }
}

}  // namespace
}  // namespace livedub
