#include "livedub/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include "livedub/config.hpp"
#include "livedub/logging.hpp"
#include "livedub/process.hpp"

namespace livedub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

HttpLimits load_http_limits(const EnvConfig& env, HttpLimits limits) {
  using Ms = std::chrono::milliseconds;
  limits.header_timeout = env.millis("LIVEDUB_HTTP_HEADER_TIMEOUT_MS", limits.header_timeout, Ms(100), Ms(120000));
  limits.body_timeout = env.millis("LIVEDUB_HTTP_BODY_TIMEOUT_MS", limits.body_timeout, Ms(100), Ms(600000));
  limits.idle_timeout = env.millis("LIVEDUB_HTTP_IDLE_TIMEOUT_MS", limits.idle_timeout, Ms(100), Ms(3600000));
  limits.max_connections = static_cast<std::size_t>(env.integer(
      "LIVEDUB_HTTP_MAX_CONNECTIONS", static_cast<std::int64_t>(limits.max_connections), 1, 1000000));
  return limits;
}

std::string HttpRequest::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

bool HttpRequest::has_header(const std::string& name) const { return headers.count(name) > 0; }

void HttpReply::set_header(std::string name, std::string value) {
  for (auto& [n, v] : headers) {
    if (beast::iequals(n, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

void send_json(HttpReply& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.content_type = "application/json";
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_error(HttpReply& res, int status, const std::string& code, const std::string& message) {
  send_json(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

namespace {

struct Route {
  std::string method;
  std::string pattern;
  std::regex regex;
  HttpService::Handler handler;
  HttpService::Run run;
};

// Handlers that may block (an engine call, a process start) run here, never on the I/O thread.
// Bounded: a request that finds every thread busy and the queue full is refused at once.
class HandlerPool {
 public:
  HandlerPool(int threads, std::size_t queue_capacity) : capacity_(queue_capacity) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~HandlerPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  bool try_submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queue_.size() >= capacity_ + idle_) return false;
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      ++idle_;
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping, nothing left
      auto job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class Session;

}  // namespace

struct HttpService::Impl {
  Impl(std::string name, std::shared_ptr<prometheus::Registry> reg, HttpLimits lim)
      : service_name(std::move(name)),
        registry(std::move(reg)),
        limits(lim),
        requests(prometheus::BuildCounter()
                     .Name("livedub_http_requests_total")
                     .Help("HTTP requests answered, by route pattern and status")
                     .Register(*registry)),
        connections(prometheus::BuildGauge()
                        .Name("livedub_http_connections_open")
                        .Help("Open HTTP client connections")
                        .Register(*registry)
                        .Add({})),
        dropped(prometheus::BuildCounter()
                    .Name("livedub_http_connections_dropped_total")
                    .Help("Connections closed by the server: a phase deadline passed, or too many open")
                    .Register(*registry)),
        pool(lim.handler_threads, lim.handler_queue) {}

  const Route* find_route(const HttpRequest& req, std::vector<std::string>& matches,
                          std::string& allowed) const {
    for (const auto& r : routes) {
      std::smatch m;
      if (!std::regex_match(req.path, m, r.regex)) continue;
      if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) {
        if (allowed.find(r.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + r.method;
        continue;
      }
      matches.assign(m.begin(), m.end());
      return &r;
    }
    return nullptr;
  }

  void count(const std::string& route, int status) {
    requests.Add({{"route", route}, {"status", std::to_string(status)}}).Increment();
  }

  std::string service_name;
  std::shared_ptr<prometheus::Registry> registry;
  HttpLimits limits;
  std::vector<Route> routes;
  Admission admission;
  std::function<nlohmann::json()> health;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Gauge& connections;
  prometheus::Family<prometheus::Counter>& dropped;

  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  std::set<std::shared_ptr<Session>> sessions;  // I/O thread only
  std::atomic<bool> stop_requested{false};
  HandlerPool pool;  // after io: its jobs post into io, so it stops first
};

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One client connection: read headers (deadline), admit, read body (deadline), run the
// handler, write, and wait for the next request (idle deadline). Lives on the I/O thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpService::Impl& service, tcp::socket socket) : service_(service), stream_(std::move(socket)) {}

  void start() { wait_for_request(); }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void finish(const char* reason) {
    if (reason) service_.dropped.Add({{"reason", reason}}).Increment();
    close();
    service_.sessions.erase(shared_from_this());
    service_.connections.Set(static_cast<double>(service_.sessions.size()));
  }

  // Idle until the client sends the first byte of a request: a keep-alive connection may
  // wait long; once bytes arrive, the header deadline runs.
  void wait_for_request() {
    if (buffer_.size() > 0) return read_header();
    stream_.expires_after(service_.limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->finish(ec == beast::error::timeout ? "idle_timeout" : nullptr);
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(service_.limits.max_header_bytes));
    // Checked against Content-Length after routing and admission (a refused client hears why),
    // and while reading a chunked body.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // not boost::none: 1.74 compares it as 0
    stream_.expires_after(service_.limits.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec == beast::error::timeout) return finish("header_timeout");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return finish(nullptr);
    }
    if (ec) {
      HttpReply reply;
      send_error(reply, ec == http::error::header_limit ? 431 : 400, "bad_request",
                 "malformed HTTP request: " + ec.message());
      reply.close = true;
      return respond("unmatched", std::move(reply));
    }
    const auto& header = parser_->get();
    request_ = HttpRequest{};
    request_.arrived = std::chrono::steady_clock::now();
    request_.method = std::string(header.method_string());
    request_.target = std::string(header.target());
    const auto q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
    for (const auto& field : header) request_.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    keep_alive_ = header.keep_alive();

    const bool body_pending = !parser_->is_done();
    HttpReply early;
    if (request_.path.size() > kMaxPathBytes) {
      send_error(early, 414, "uri_too_long",
                 "the path has " + std::to_string(request_.path.size()) + " bytes; at most " + std::to_string(kMaxPathBytes));
      early.close = body_pending;
      return respond("unmatched", std::move(early));
    }
    std::string allowed;
    route_ = service_.find_route(request_, request_.matches, allowed);
    if (!route_) {
      if (allowed.empty()) {
        send_error(early, 404, "not_found", "no route for " + request_.method + " " + request_.path);
      } else {
        early.set_header("Allow", allowed);
        send_error(early, 405, "method_not_allowed",
                   request_.method + " is not allowed on " + request_.path + "; use " + allowed);
      }
      early.close = body_pending;  // the body stays unread
      return respond("unmatched", std::move(early));
    }
    if (service_.admission && !service_.admission(request_, early)) {
      early.close = early.close || body_pending;
      return respond(route_->pattern, std::move(early));
    }
    if (header.has_content_length() && parser_->content_length() &&
        *parser_->content_length() > service_.limits.max_body_bytes) {
      return refuse_too_large();
    }
    if (body_pending && beast::iequals(header[http::field::expect], "100-continue")) {
      // The client waits for this before it sends the body (libcurl does so for > 1 KiB).
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, header.version());
      stream_.expires_after(service_.limits.write_timeout);
      return http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code write_ec, std::size_t) {
        if (write_ec) return self->finish(nullptr);
        self->read_body();
      });
    }
    read_body();
  }

  void refuse_too_large() {
    HttpReply reply;
    send_error(reply, 413, "payload_too_large",
               "request body exceeds " + std::to_string(service_.limits.max_body_bytes) + " bytes");
    reply.close = true;
    respond(route_ ? route_->pattern : "unmatched", std::move(reply));
  }

  void read_body() {
    parser_->body_limit(service_.limits.max_body_bytes);
    stream_.expires_after(service_.limits.body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec == beast::error::timeout) return self->finish("body_timeout");
      if (ec == http::error::body_limit) return self->refuse_too_large();
      if (ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) {
          return self->finish(nullptr);
        }
        HttpReply reply;
        send_error(reply, 400, "bad_request", "malformed HTTP request body: " + ec.message());
        reply.close = true;
        return self->respond(self->route_->pattern, std::move(reply));
      }
      self->request_.body = self->parser_->release().body();
      self->dispatch();
    });
  }

  void dispatch() {
    stream_.expires_never();  // the handler's own time is not the client's fault
    if (route_->run == HttpService::Run::inline_on_io_thread) {
      return respond(route_->pattern, run_handler(*route_, request_));
    }
    auto self = shared_from_this();
    const bool queued = service_.pool.try_submit([self, route = route_] {
      auto reply = run_handler(*route, self->request_);
      asio::post(self->stream_.get_executor(),
                 [self, reply = std::move(reply)]() mutable { self->respond(self->route_->pattern, std::move(reply)); });
    });
    if (!queued) {
      HttpReply busy;
      busy.set_header("Retry-After", "1");
      send_error(busy, 503, "overloaded", "every request handler is busy and the queue is full; retry shortly");
      respond(route_->pattern, std::move(busy));
    }
  }

  static HttpReply run_handler(const Route& route, const HttpRequest& request) {
    HttpReply reply;
    try {
      route.handler(request, reply);
    } catch (const std::exception& e) {
      log_error({}, "unhandled error on {} {}: {}", request.method, request.path, e.what());
      reply = HttpReply{};
      send_error(reply, 500, "internal_error", e.what());
    } catch (...) {
      reply = HttpReply{};
      send_error(reply, 500, "internal_error", "unknown error");
    }
    return reply;
  }

  void respond(const std::string& route, HttpReply reply) {
    service_.count(route, reply.status);
    log_debug({}, "{} {} -> {}", logging::truncate_for_log(request_.method, 16), logging::truncate_for_log(request_.path, 200),
              reply.status);
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(reply.status));
    res->version(11);
    res->set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res->set(name, value);
    const bool keep = keep_alive_ && !reply.close && !service_.stop_requested;
    res->keep_alive(keep);
    if (request_.method != "HEAD") res->body() = std::move(reply.body);
    res->prepare_payload();
    stream_.expires_after(service_.limits.write_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (ec) return self->finish(ec == beast::error::timeout ? "write_timeout" : nullptr);
      if (!keep) return self->finish(nullptr);
      self->wait_for_request();
    });
  }

  HttpService::Impl& service_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  const Route* route_ = nullptr;
  bool keep_alive_ = true;
};

void accept_next(HttpService::Impl& service) {
  service.acceptor->async_accept([&service](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !service.acceptor->is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (service.sessions.size() >= service.limits.max_connections) {
        // Refused with a reason rather than a silent reset; written without waiting.
        static const std::string body =
            R"({"error":{"code":"too_many_connections","message":"connection limit reached; retry shortly"}})";
        static const std::string busy =
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        socket.non_blocking(true, ignored);
        socket.write_some(asio::buffer(busy), ignored);
        socket.close(ignored);
        service.dropped.Add({{"reason", "max_connections"}}).Increment();
      } else {
        auto session = std::make_shared<Session>(service, std::move(socket));
        service.sessions.insert(session);
        service.connections.Set(static_cast<double>(service.sessions.size()));
        session->start();
      }
    } else {
      // Out of file descriptors (EMFILE) fails every accept until one closes: retrying at once
      // would spin. Pause briefly; the open connections keep being served meanwhile.
      log_warn({}, "accept failed: {}; retrying in 100 ms", ec.message());
      service.dropped.Add({{"reason", "accept_failed"}}).Increment();
      auto timer = std::make_shared<asio::steady_timer>(service.io, std::chrono::milliseconds(100));
      timer->async_wait([&service, timer](beast::error_code) {
        if (service.acceptor->is_open()) accept_next(service);
      });
      return;
    }
    accept_next(service);
  });
}

}  // namespace

HttpService::HttpService(std::string service_name, std::shared_ptr<prometheus::Registry> registry, HttpLimits limits)
    : impl_(std::make_unique<Impl>(std::move(service_name), std::move(registry), limits)) {
  route(
      "GET", "/healthz",
      [this](const HttpRequest&, HttpReply& res) {
        nlohmann::json body = {{"status", "ok"}, {"service", impl_->service_name}};
        // Lost log lines are reported, not fatal: a full disk must not restart the service.
        body["logs"] = {{"write_failures", logging::write_failures()}, {"suppressed", logging::suppressed_total()}};
        if (impl_->health) body.update(impl_->health());
        send_json(res, body["status"] == "ok" ? 200 : 503, body);
      },
      Run::inline_on_io_thread);
  route(
      "GET", "/metrics",
      [this](const HttpRequest&, HttpReply& res) {
        res.content_type = "text/plain; version=0.0.4";
        res.body = prometheus::TextSerializer().Serialize(impl_->registry->Collect());
        // The logger's counters live below any registry (every process has exactly one logger).
        res.body += fmt::format(
            "# HELP livedub_log_lines_suppressed_total Log lines dropped by the per-site rate limit\n"
            "# TYPE livedub_log_lines_suppressed_total counter\n"
            "livedub_log_lines_suppressed_total {}\n"
            "# HELP livedub_log_write_failures_total Log lines the output failed to take (disk full, ...)\n"
            "# TYPE livedub_log_write_failures_total counter\n"
            "livedub_log_write_failures_total {}\n",
            logging::suppressed_total(), logging::write_failures());
      },
      Run::inline_on_io_thread);
}

HttpService::~HttpService() { stop(); }

void HttpService::route(const std::string& method, const std::string& pattern, Handler handler, Run run) {
  impl_->routes.push_back(Route{method, pattern, std::regex(pattern), std::move(handler), run});
}

prometheus::Registry& HttpService::registry() { return *impl_->registry; }
void HttpService::set_admission(Admission admission) { impl_->admission = std::move(admission); }
const HttpLimits& HttpService::limits() const { return impl_->limits; }
void HttpService::set_health(std::function<nlohmann::json()> health) { impl_->health = std::move(health); }

int HttpService::bind(const std::string& host, int port) {
  raise_open_files_limit();  // LIVEDUB_HTTP_MAX_CONNECTIONS decides, not the soft limit
  try {
    tcp::endpoint endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port));
    impl_->acceptor.emplace(impl_->io);
    impl_->acceptor->open(endpoint.protocol());
    impl_->acceptor->set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor->bind(endpoint);
    impl_->acceptor->listen(asio::socket_base::max_listen_connections);
    const int bound = impl_->acceptor->local_endpoint().port();
    accept_next(*impl_);
    return bound;
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + " (" + e.what() + ")");
  }
}

// stop() before serve(): serve() sees the flag and returns. During serve(): the posted close
// runs on the I/O thread, then ends run(). Either way the acceptor and every connection close.
void HttpService::serve() {
  if (!impl_->stop_requested) impl_->io.run();
}

void HttpService::stop() {
  if (impl_->stop_requested.exchange(true)) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    if (impl->acceptor) impl->acceptor->close(ignored);
    for (const auto& s : impl->sessions) s->close();
    impl->io.stop();
  });
}

}  // namespace livedub
