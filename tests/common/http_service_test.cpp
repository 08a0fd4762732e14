#include "livedub/http_server.hpp"

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "livedub/config.hpp"
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
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  HttpService& http_;
  int port_ = 0;
  std::future<void> serving_;
};

// A raw client socket, for what well-behaved clients never do (stall, dribble, hold).
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(const std::string& data) { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()); }
  // What the server sent within `timeout`; stops early at end of stream.
  std::string receive(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) continue;
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && !closed) break;
    }
    return out;
  }

 private:
  int fd_;
};

std::string error_code(const HttpResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "<not a JSON error: " + response.body + ">";
  return body["error"]["code"].get<std::string>();
}

TEST(HttpService, HealthMetricsAndJsonErrors) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  http.route("GET", "/boom", [](const HttpRequest&, HttpReply&) { throw std::runtime_error("kaboom"); });
  http.route("GET", "/items/([a-z]+)", [](const HttpRequest& req, HttpReply& res) {
    send_json(res, 200, {{"item", req.matches[1]}, {"query", req.query}});
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

  auto item = client.get(running.url("/items/abc?x=1"), 5s);
  EXPECT_EQ(item.status, 200);
  EXPECT_EQ(nlohmann::json::parse(item.body)["item"], "abc");
  EXPECT_EQ(nlohmann::json::parse(item.body)["query"], "x=1");

  auto wrong_method = client.post(running.url("/items/abc"), "", "text/plain", 5s);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers["allow"], "GET");
  EXPECT_EQ(error_code(wrong_method), "method_not_allowed");

  auto boom = client.get(running.url("/boom"), 5s);
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(error_code(boom), "internal_error");

  auto metrics = client.get(running.url("/metrics"), 5s);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("livedub_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
  // Labelled by pattern, not by the raw path a client chose.
  EXPECT_THAT(metrics.body, HasSubstr("route=\"/items/([a-z]+)\",status=\"200\""));
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

TEST(HttpService, OversizedBodyIs413JsonWithoutReadingIt) {
  HttpLimits limits;
  limits.max_body_bytes = 1024;
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), limits);
  http.route("POST", "/upload", [](const HttpRequest&, HttpReply& res) { send_json(res, 200, {{"ok", true}}); });
  RunningService running(http);
  HttpClient client;
  auto response = client.post(running.url("/upload"), std::string(4096, 'x'), "text/plain", 5s);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(error_code(response), "payload_too_large");

  // Chunked: no Content-Length to refuse early; the limit still holds while reading.
  RawConnection raw(running.port());
  raw.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + std::string(2048, 'y') + "\r\n");
  EXPECT_THAT(raw.receive(5s), HasSubstr("413"));
}

// The longest path a header allows (16 KiB): refused before the route regexes see it (a
// 7,000-character one overflowed std::regex's recursion under ASan), and the service lives on.
TEST(HttpService, AnOverlongPathIs414AndNeverReachesTheRouteMatcher) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  http.route("GET", R"(/v1/streams/([^/]*))", [](const HttpRequest&, HttpReply& res) { send_json(res, 200, {{"ok", true}}); });
  RunningService running(http);
  HttpClient client;
  auto response = client.get(running.url("/v1/streams/" + std::string(15000, 'x')), 5s);
  EXPECT_EQ(response.status, 414);
  EXPECT_EQ(error_code(response), "uri_too_long");
  EXPECT_EQ(client.get(running.url("/v1/streams/" + std::string(kMaxPathBytes - 12, 'x')), 5s).status, 200);
  EXPECT_EQ(client.get(running.url("/v1/streams/" + std::string(kMaxPathBytes - 11, 'x')), 5s).status, 414);
}

TEST(HttpService, AdmissionRefusesBeforeTheBodyIsRead) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  int handled = 0;
  http.route("POST", "/v1/x", [&](const HttpRequest&, HttpReply& res) { ++handled; send_json(res, 200, {}); });
  http.set_admission([](const HttpRequest& req, HttpReply& res) {
    if (req.header("authorization") == "Bearer ok") return true;
    send_error(res, 401, "unauthorized", "no");
    return false;
  });
  RunningService running(http);
  RawConnection raw(running.port());
  // Announces 1 MB but sends none of it: the answer must not wait for the body.
  raw.send("POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  bool closed = false;
  const auto reply = raw.receive(3s, &closed);
  EXPECT_THAT(reply, HasSubstr("401"));
  EXPECT_TRUE(closed) << "the unread body makes the connection unusable";
  EXPECT_EQ(handled, 0);
}

// libcurl sends "Expect: 100-continue" before large bodies and waits for the interim answer.
TEST(HttpService, AnswersExpectContinue) {
  HttpService http("test-service", std::make_shared<prometheus::Registry>());
  http.route("POST", "/echo", [](const HttpRequest& req, HttpReply& res) { send_json(res, 200, {{"size", req.body.size()}}); });
  RunningService running(http);
  RawConnection raw(running.port());
  raw.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_THAT(raw.receive(3s), HasSubstr("HTTP/1.1 100 Continue"));
  raw.send("hello");
  EXPECT_THAT(raw.receive(3s), HasSubstr("{\"size\":5}"));
}

// Request smuggling and resource holes: every contradictory or impossible length is refused
// at once with the right 4xx (issue 12 measured no answer and a held thread for the first two).
TEST(HttpService, BadLengthsGetA4xxAtOnce) {
  HttpLimits limits;
  limits.max_body_bytes = 1024;
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), limits);
  http.route("POST", "/echo", [](const HttpRequest& req, HttpReply& res) { send_json(res, 200, {{"size", req.body.size()}}); });
  RunningService running(http);
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Content-Length: -1\r\n\r\n", "HTTP/1.1 400"},
      {"Content-Length: 18446744073709551615\r\n\r\n", "HTTP/1.1 413"},
      {"Content-Length: 99999999999999999999999\r\n\r\n", "HTTP/1.1 400"},
      {"Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", "HTTP/1.1 400"},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", "HTTP/1.1 400"},
      {"Content-Length: 1e3\r\n\r\n", "HTTP/1.1 400"},
  };
  for (const auto& [headers, status] : cases) {
    RawConnection raw(running.port());
    const auto started = std::chrono::steady_clock::now();
    raw.send(head + headers);
    const auto reply = raw.receive(3s);
    EXPECT_THAT(reply, HasSubstr(status)) << headers;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << headers;
  }
}

// The property cpp-httplib lacked: connections that send nothing, or one byte at a time, hold
// no thread, so a fresh request is answered at once; and each is cut off at its deadline.
TEST(HttpService, SlowAndIdleClientsNeitherStallNorStayForever) {
  HttpLimits limits;
  limits.header_timeout = 1000ms;
  limits.body_timeout = 1000ms;
  limits.idle_timeout = 60000ms;
  limits.handler_threads = 2;
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), limits);
  http.route("POST", "/work", [](const HttpRequest&, HttpReply& res) { send_json(res, 200, {}); });
  RunningService running(http);

  std::vector<std::unique_ptr<RawConnection>> idle, slow_header, slow_body;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(std::make_unique<RawConnection>(running.port()));
    slow_header.push_back(std::make_unique<RawConnection>(running.port()));
    slow_header.back()->send("GET /healthz HTTP/1.1\r\nHo");
    slow_body.push_back(std::make_unique<RawConnection>(running.port()));
    slow_body.back()->send("POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
  }
  HttpClient client;
  for (int round = 0; round < 3; ++round) {
    for (auto& c : slow_header) c->send("s");  // a byte now and then: never a complete header
    for (auto& c : slow_body) c->send("x");
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(client.get(running.url("/healthz"), 5s).status, 200);
    EXPECT_EQ(HttpClient().post(running.url("/work"), "{}", "application/json", 5s).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms) << "round " << round;
    std::this_thread::sleep_for(200ms);
  }
  // Past the header and body deadlines the dribblers are cut off; idle ones may stay.
  for (auto* group : {&slow_header, &slow_body}) {
    for (auto& c : *group) {
      bool closed = false;
      c->receive(2000ms, &closed);
      ASSERT_TRUE(closed) << "a client that never finishes its " << (group == &slow_header ? "headers" : "body")
                          << " is disconnected";
    }
  }
  std::this_thread::sleep_for(100ms);
  const auto metrics = client.get(running.url("/metrics"), 5s).body;
  EXPECT_THAT(metrics, HasSubstr("livedub_http_connections_dropped_total{reason=\"header_timeout\"} 40"));
  EXPECT_THAT(metrics, HasSubstr("livedub_http_connections_dropped_total{reason=\"body_timeout\"} 40"));
}

TEST(HttpService, BusyHandlerPoolAnswers503AtOnce) {
  HttpLimits limits;
  limits.handler_threads = 1;
  limits.handler_queue = 0;
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), limits);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  http.route("GET", "/slow", [&](const HttpRequest&, HttpReply& res) {
    entered.set_value();
    released.wait();
    send_json(res, 200, {});
  });
  RunningService running(http);
  auto first = std::async(std::launch::async, [&] { return HttpClient().get(running.url("/slow"), 10s).status; });
  entered.get_future().wait();
  const auto started = std::chrono::steady_clock::now();
  auto second = HttpClient().get(running.url("/slow"), 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.headers["retry-after"], "1");
  EXPECT_EQ(error_code(second), "overloaded");
  // Inline routes do not need the pool.
  EXPECT_EQ(HttpClient().get(running.url("/healthz"), 5s).status, 200);
  release.set_value();
  EXPECT_EQ(first.get(), 200);
}

TEST(HttpService, ConnectionsBeyondTheLimitAreRefusedWithAReason) {
  HttpLimits limits;
  limits.max_connections = 3;
  HttpService http("test-service", std::make_shared<prometheus::Registry>(), limits);
  RunningService running(http);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawConnection>(running.port()));
  std::this_thread::sleep_for(200ms);  // accepted by now
  RawConnection extra(running.port());
  EXPECT_THAT(extra.receive(3s), HasSubstr("too_many_connections"));
  held.clear();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(HttpClient().get(running.url("/healthz"), 5s).status, 200);
}

TEST(HttpService, StopBeforeOrWhileServingStartsNeverHangs) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    HttpService http("test-service", std::make_shared<prometheus::Registry>());
    http.bind("127.0.0.1", 0);
    if (attempt == 0) http.stop();  // strictly before serve()
    auto serving = std::async(std::launch::async, [&] { http.serve(); });
    http.stop();
    ASSERT_EQ(serving.wait_for(5s), std::future_status::ready) << "serve() missed stop() on attempt " << attempt;
  }
}

TEST(HttpLimits, FromEnvironmentWithErrorsNamingTheVariable) {
  auto limits = load_http_limits(EnvConfig([](const std::string& name) -> std::optional<std::string> {
    if (name == "LIVEDUB_HTTP_HEADER_TIMEOUT_MS") return "2500";
    return std::nullopt;
  }));
  EXPECT_EQ(limits.header_timeout, 2500ms);
  EXPECT_EQ(limits.body_timeout, HttpLimits{}.body_timeout);
  try {
    load_http_limits(EnvConfig([](const std::string& name) -> std::optional<std::string> {
      if (name == "LIVEDUB_HTTP_MAX_CONNECTIONS") return "0";
      return std::nullopt;
    }));
    FAIL() << "0 connections accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "LIVEDUB_HTTP_MAX_CONNECTIONS");
  }
}

}  // namespace
}  // namespace livedub
